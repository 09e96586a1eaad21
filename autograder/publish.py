"""The ``rnn-course publish`` command (being written)."""


def add_publish_command(subparsers) -> None:
    pass
