"""``python -m purview_sync.devhost`` — run the real function app locally (see purview_sync/dev/host/)."""

from purview_sync.dev.main import main

if __name__ == "__main__":
    main()
