"""``python -m purview_sync.cli``."""

from purview_sync.cli import main

if __name__ == "__main__":
    main()
