"""``python -m authward`` is the ``authward`` command."""

from authward.cli.main import main

main()
