# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The options of one stream configuration (argument spec: module_utils/stream.py STREAM_CONFIG_OPTIONS),
    # documented once: dbcs_stream_config takes them, each item of dbcs_stream_configs takes them.
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Name of the stream configuration; identifies it on the server (exact, case-sensitive match).
      - Any text without control characters.
      - If two configurations on the server have this name, the task fails and lists their ids.
    type: str
    required: true
  state:
    description:
      - V(present) creates the configuration or updates the options you set.
      - V(absent) deletes it; deleting one that does not exist changes nothing. A configuration with an active run
        is deleted only with O(force).
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - V(load) copies the source tables once and finishes; V(cdc) follows changes.
      - Defaults to V(load) when the configuration is created. A server that stores V(convert) (what the vendor's
        web client sent for a load before April 2026) holds a V(load).
    type: str
    choices: [load, cdc]
  description:
    description: Free text shown with the configuration.
    type: str
  source:
    description:
      - Where the data comes from. Required to create a configuration, with O(source.connection) and O(source.database).
    type: dict
    suboptions:
      connection:
        description: Name or id of a MySQL or PostgreSQL connection. It must exist before any write.
        type: str
        required: true
      database:
        description: Database to read from.
        type: str
      schema:
        description: PostgreSQL schema the tables are in (the server's default is C(public)). Not for MySQL.
        type: str
      tables:
        description:
          - Names of the tables to copy, compared as a set (order does not matter).
          - Leave it out to copy every table of the database (or schema).
        type: list
        elements: str
  target:
    description:
      - Where the data goes. Required to create a configuration, with O(target.connection) and O(target.database).
    type: dict
    suboptions:
      connection:
        description: Name or id of a MySQL or PostgreSQL connection. It must exist before any write.
        type: str
        required: true
      database:
        description: Database to write into.
        type: str
      schema:
        description: PostgreSQL schema to write into (created with the tables when missing). Not for MySQL.
        type: str
      schema_policy:
        description:
          - What to do with the target tables before copying.
          - V(fail_if_exists) fails when a table exists; V(validate_existing) requires every table to exist with the
            source's columns; V(create_missing_only) creates what is missing; V(drop_and_recreate) drops and creates.
          - Defaults to V(create_missing_only) when the configuration is created.
        type: str
        choices: [fail_if_exists, validate_existing, create_missing_only, drop_and_recreate]
      write_mode:
        description:
          - How rows are written. V(fail_if_not_empty) fails on a table that has rows; V(append) adds them;
            V(truncate_and_load) empties the table first; V(upsert) updates rows whose primary key exists and adds the
            others (every table needs a primary key).
          - Defaults to V(append) when the configuration is created.
        type: str
        choices: [fail_if_not_empty, append, truncate_and_load, upsert]
  limits:
    description: When a run stops early. V(0) (the default on create) means no limit.
    type: dict
    suboptions:
      rows:
        description: Rows to copy at most, over all tables; a run that reaches it ends C(EVENT_LIMIT_REACHED).
        type: int
      seconds:
        description: Seconds of running at most; a run that reaches it ends C(TIME_LIMIT_REACHED).
        type: int
  bundle_size:
    description: Rows the server reads and writes at a time (the server's default applies when not set).
    type: int
  reporting_interval:
    description: Seconds between the progress reports of a run (the server's default applies when not set).
    type: int
"""
