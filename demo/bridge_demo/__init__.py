"""The demo: «Демо: ИС Контингент» (a relying app that signs in through the bridge, as a real school
registry would) and the stack that runs it beside the bridge and the mock providers with demo data.

Never part of the bridge's wheel or image; `./dev demo` runs `bridge-demo`.
"""
