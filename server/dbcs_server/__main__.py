from dbcs_server.cli import main

raise SystemExit(main())
