"""Small state services the chat and the relay keep besides mailboxes and mail, each over its own
tables: dialog flows (`flows`), delivered cards and open forms (`card_records`), org admins seen in
chat (`admins`), and once-only claims (`claims`: chat messages handled, alerts sent).

They know nothing of DingTalk or of any front end. Rows that two `mailbot run` instances sharing one
store may update at once change by compare-and-set (`Table.put_if`), so a step is taken once.
"""
