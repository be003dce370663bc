# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The waiting half of dbconvert.streams.dbcs_stream, on the controller.

The module acts (starts, resumes, pauses, stops) and says which run to follow and to which statuses
(`wait_for`). A module cannot print while it runs, so the waiting happens here: the run is polled with
dbconvert.streams.dbcs_stream_info (reads only, on the same host as the module, with the same API options)
at the run's reporting interval, and with -v each poll that shows progress prints the rows written so far.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

API_OPTIONS = ("api_url", "api_key", "validate_certs", "ca_path", "timeout", "api_version")
TERMINAL = ("FINISHED", "STOPPED", "FAILED", "TIME_LIMIT_REACHED", "EVENT_LIMIT_REACHED")


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        acted = self._execute_module(module_name="dbconvert.streams.dbcs_stream", module_args=dict(args), task_vars=task_vars)
        wait_for = acted.pop("wait_for", None)
        result.update(acted)
        if result.get("failed") or not wait_for:
            return result
        accept = args.get("accept") or ["FINISHED"]
        if args.get("state", "finished") != "finished":
            accept = list(TERMINAL)  # only "finished" judges how a run ended; the others wait for a state
        run = self._follow(wait_for, int(args.get("wait_timeout") or 3600), acted["config_id"], task_vars,
                           args.get("state", "finished"))
        if run.get("failed"):
            result.update(failed=True, msg=run["msg"], stream=run.get("stream", result.get("stream")))
            return result
        result["stream"] = run
        status = run.get("status")
        if status in TERMINAL and (status not in accept or status == "FAILED"):
            result["failed"] = True
            result["msg"] = "stream %s of configuration '%s' ended %s%s" % (
                run.get("id"), args.get("config"), status, ": %s" % run["error"] if run.get("error") else "")
        return result

    def _follow(self, wait_for, timeout, config_id, task_vars, state):
        """Poll the run until it is in one of the wanted statuses; its last view, or {failed, msg} on a timeout."""
        info_args = dict((key, self._task.args[key]) for key in API_OPTIONS if key in self._task.args)
        info_args.update(id=config_id, gather=["runs", "stats"])
        stream_id, wanted = wait_for["stream_id"], wait_for["statuses"]
        interval = min(max(float(wait_for.get("interval") or 3), 1.0), 10.0)
        deadline = time.monotonic() + timeout
        shown = None
        while True:
            info = self._execute_module(module_name="dbconvert.streams.dbcs_stream_info", module_args=info_args,
                                        task_vars=task_vars)
            if info.get("failed"):
                return dict(failed=True, msg="while waiting for stream %s: %s" % (stream_id, info.get("msg")))
            config = (info.get("stream_configs") or [{}])[0]
            run = dict(next((r for r in config.get("runs", []) if r.get("id") == stream_id), {"id": stream_id}))
            stats = config.get("stats") or {}
            if stats.get("id") == stream_id:
                run.update((key, stats[key]) for key in ("rows", "rows_total") if key in stats)
            line = progress(run)
            if line != shown:
                display.v("stream %s: %s" % (stream_id, line))
                shown = line
            if run.get("status") in wanted:
                return run
            if time.monotonic() >= deadline:
                goal = {"running": "run", "paused": "pause"}.get(state, "end")
                return dict(failed=True, stream=run, msg="stream %s did not %s within %d s (wait_timeout); it is %s" % (
                    stream_id, goal, timeout, line))
            time.sleep(interval)


def progress(run):
    """'RUNNING, 12000 rows (customers 4000, orders 8000)', for -v and for messages."""
    text = str(run.get("status") or "not listed yet")
    if run.get("rows_total") is not None:
        text += ", %s rows" % run["rows_total"]
    if run.get("rows"):
        text += " (%s)" % ", ".join("%s %s" % (table, rows) for table, rows in sorted(run["rows"].items()))
    return text
