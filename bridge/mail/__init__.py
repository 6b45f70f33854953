"""Outgoing e-mail: Russian templates, a transactional outbox, and a dispatcher that sends over SMTP.

A use case queues a message in its own transaction (`bridge.services.outbox.queue_mail`); the
dispatcher, a background task of the web app, sends what is due after the commit and retries on
failure, so a mail server outage blocks no request and loses no message.
"""
