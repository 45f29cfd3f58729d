"""``python -m ccl_embed.cli``: the ``ccl-embed`` command."""

from ccl_embed.cli import main

main()
