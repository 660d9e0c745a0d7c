from deskprov.cli import main

raise SystemExit(main())
