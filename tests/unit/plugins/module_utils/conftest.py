# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scripted server fixture of the client's unit tests."""

from __future__ import annotations

import pytest

from ansible_collections.dbconvert.streams.tests.unit.plugins.module_utils.scripted_server import ScriptedServer


@pytest.fixture
def server():
    """A server that answers as a v1 server does: no /system/defaults, an empty list of connections."""
    scripted = ScriptedServer()
    scripted.on("GET", "/system/defaults", (404, {"error": "not found"}))
    scripted.on("GET", "/connections", (200, []))
    yield scripted
    scripted.close()
