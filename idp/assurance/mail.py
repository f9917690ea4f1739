"""Mail to citizens (email verification codes, notices), through one small interface.

Every message is written to ``outbox_message``: in development and in tests that table *is* the
mailbox (nothing leaves the machine); with ``IDP_SMTP_HOST`` set the message is also handed to
that SMTP server (RFC 5321, STARTTLS per RFC 3207) and ``sent_at`` records when. A message that
the server refused keeps ``sent_at`` NULL, so an operator can find and resend it; the citizen's
request does not fail because the mail server is down.

Production should set ``IDP_SMTP_HOST``: without it codes are written to the outbox only and
never reach anyone. The settings do not refuse that yet (see the module ``idp.config``).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy.orm import Session

from idp.config import Settings
from idp.storage.models import OutboxMessage

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class MailMessage:
    recipient: str
    subject: str
    body: str


class Mailer(Protocol):
    """Sends one message and returns its outbox row (flushed, in the caller's transaction)."""

    def send(self, session: Session, message: MailMessage, *, now: datetime) -> OutboxMessage: ...


def _record(session: Session, message: MailMessage, *, now: datetime) -> OutboxMessage:
    row = OutboxMessage(
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        created_at=now,
        sent_at=None,
    )
    session.add(row)
    session.flush()
    return row


class OutboxMailer:
    """Development mailer: the message is only written to the outbox table."""

    def send(self, session: Session, message: MailMessage, *, now: datetime) -> OutboxMessage:
        return _record(session, message, now=now)


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """Writes the message to the outbox and hands it to an SMTP server (``smtplib``)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = True

    def send(self, session: Session, message: MailMessage, *, now: datetime) -> OutboxMessage:
        row = _record(session, message, now=now)
        try:
            self._deliver(message)
        except (OSError, smtplib.SMTPException) as exc:
            # Never the message itself in the log: it carries a one-time code.
            logger.warning(
                "SMTP delivery of outbox message %s failed (%s)", row.id, type(exc).__name__
            )
            return row
        row.sent_at = now
        return row

    def _deliver(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as server:
            if self.starttls:
                server.starttls(context=ssl.create_default_context())
            if self.username:
                server.login(self.username, self.password or "")
            server.send_message(email)


def mailer_from_settings(settings: Settings) -> Mailer:
    """SMTP when ``IDP_SMTP_HOST`` is set, else the outbox alone."""
    if not settings.smtp_host:
        return OutboxMailer()
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )
