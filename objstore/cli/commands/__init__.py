"""Owns nothing but its modules: each one is a command group that registers its commands with
:func:`objstore.cli.registry.command` when imported (:func:`objstore.cli.parser.load_commands`
imports them all). A new command is one new module here; this file must not list them.
"""
