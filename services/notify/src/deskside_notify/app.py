"""`create_app`: the notify service as an ASGI app, with its delivery workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from deskside_kit.app import create_service_app
from deskside_kit.background import periodically
from deskside_kit.settings import load_settings
from deskside_notify.config import NotifySettings
from deskside_notify.delivery import Mailer, WebhookDispatcher
from deskside_notify.egress import WebhookSender
from deskside_notify.mail import FileTransport, MailTransport, SmtpTransport
from deskside_notify.router import routers
from deskside_notify.service import DeliveryWorkers, egress_policy


def mail_transport(settings: NotifySettings) -> MailTransport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout,
        )
    return FileTransport(settings.resolved_mail_dir)


def until_idle(
    run_once: Callable[[], Awaitable[int]], batch_size: int
) -> Callable[[], Awaitable[None]]:
    """A job that keeps going while rounds come back full, then waits for a tick or a wake."""

    async def job() -> None:
        while await run_once() >= batch_size:
            pass

    return job


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or load_settings(NotifySettings)

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        sender = WebhookSender(egress_policy(settings), timeout=settings.webhook_timeout)
        # Woken by the commits that store new emails and deliveries; the interval is the
        # safety net for the rest: retries coming due, other replicas' work, lapsed leases.
        workers = app.state.delivery_workers = DeliveryWorkers()
        app.state.mailer = Mailer(app.state.sessions, mail_transport(settings), settings)
        app.state.dispatcher = WebhookDispatcher(
            app.state.sessions, sender, settings, workers=workers
        )
        wakes = settings.delivery_wake_on_commit
        batch = settings.delivery_batch_size
        async with AsyncExitStack() as stack:
            stack.push_async_callback(sender.aclose)
            await stack.enter_async_context(
                periodically(
                    "notify-mail",
                    settings.delivery_interval,
                    until_idle(app.state.mailer.run_once, batch),
                    wakeup=workers.mail if wakes else None,
                )
            )
            await stack.enter_async_context(
                periodically(
                    "notify-webhooks",
                    settings.delivery_interval,
                    until_idle(app.state.dispatcher.run_once, batch),
                    wakeup=workers.webhooks if wakes else None,
                )
            )
            yield

    return create_service_app(
        settings,
        title="Deskside notify",
        description="Email and webhook delivery of Deskside events.",
        routers=routers,
        migrations="deskside_notify:migrations",
        resources=resources,
    )
