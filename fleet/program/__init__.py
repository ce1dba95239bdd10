"""The Pulumi program: load the manifests, look at AWS once, refuse what must
not happen (fleet.program.declare), check who signs each CA's verification
certificate (fleet.providers.custody), limit a sharded stack to its places
(fleet.program.stack_scope), and expand the manifests into one declaration per
resource (fleet.program.resources)."""


def run() -> None:
    """The program of a fleet repository that `fleet init` wrote before fleet was a component: its
    __main__.py is `from fleet.program import run; run()`. Now fleet as a component, its outputs exported."""
    from fleet.component import Fleet

    Fleet().export()
