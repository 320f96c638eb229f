"""Front ends that carry chat messages to the router: DingTalk Stream mode and the local shell.

Adapters hold no business logic: they turn their input into `IncomingMessage` and send `Reply`s.
"""
