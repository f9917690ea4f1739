"""The tamper-evident audit log: who did what, when, to which account, through which client."""
