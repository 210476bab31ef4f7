"""The `openai` backend: any OpenAI-compatible chat-completions server.

One request per paper (plus at most one repair) returns the TL;DR, summary
and tags as one JSON object. Requests run concurrently on `AsyncOpenAI`,
with `[llm] concurrency` workers bounding how many are in flight (llm_batch);
the SDK's own retries deal with 429 (honouring Retry-After), 5xx, timeouts and
dropped connections. Each finished paper comes out as an Outcome with the calls
it took, and digest/summarize/writer.py commits it at once, so an interrupted run
loses nothing done and the next one picks up the rest.

Failures are sorted by reach (see llm_errors): a setup problem stops the run
with one line; an exhausted quota, a cost cap or a server failing paper
after paper stops sending (the rest come back skipped); a bad reply gets one
repair attempt and then the paper comes back failed, with the reason.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from digest.backends.base import SKIPPED, Failure, Outcome, StopCheck, never
from digest.backends.llm_batch import Put, SetupProblem, outcomes, work_through
from digest.backends.llm_checks import check_reply
from digest.backends.llm_reply import (
    Reply,
    ReplyError,
    prompt_version,
    read_reply,
    render_system,
    repair_message,
    response_format,
    user_message,
    what_was_said,
)
from digest.backends.llm_run import RunState, call_record, is_local
from digest.backends.offline import OfflineBackend
from digest.backends.server_watch import ServerWatch
from digest.errors import MissingKeyError
from digest.models import LLMCall, Paper, Summary

if TYPE_CHECKING:
    import openai

    from digest.config import LLMConfig, Settings

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "no-key-needed"  # local servers (Ollama, llama.cpp, ...) ignore the key

# The openai SDK is imported only when a request is about to be made: a run with
# nothing to summarise (the usual repeat run) does not pay half a second for it.
ClientFactory = Callable[[], "openai.AsyncOpenAI"]


class OpenAIBackend:
    """Summaries from a chat model. `client_factory` injects the AsyncOpenAI client
    (tests, benchmarks); one is made per batch because a client is tied to the
    event loop it first ran in."""

    name = "openai"

    def __init__(
        self,
        llm: LLMConfig,
        tags: Mapping[str, str],
        *,
        api_key: str | None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.llm = llm
        self.model = llm.model
        self.base_url = (llm.base_url or OPENAI_URL).rstrip("/")
        self.vocabulary = tuple(tags)
        self.tag_descriptions = tags
        self._setup_hint = f"check [llm] base_url ({self.base_url}) and model ({self.model})"
        self._offline = OfflineBackend(tags)
        self._api_key = api_key
        self._client_factory = client_factory
        self._watch = ServerWatch()  # what the server answered that no API would
        self._system = render_system(self.vocabulary, llm.language, llm.structured_output)
        self._format = response_format(llm.structured_output, self.vocabulary)
        self.prompt_version = prompt_version(self._system, self._format, llm.structured_output)
        self._fixed_chars = len(self._system) + len(json.dumps(self._format or ""))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        client_factory: ClientFactory | None = None,
    ) -> OpenAIBackend:
        """Configure from `[llm]`; the key comes from the environment variable it names."""
        env = os.environ if env is None else env
        key = env.get(settings.llm.api_key_env) or None
        if key is None and is_local(settings.llm.base_url or OPENAI_URL):
            key = PLACEHOLDER_KEY
        return cls(settings.llm, settings.tags, api_key=key, client_factory=client_factory)

    # --- public entry points ----------------------------------------------------

    def summarize(self, paper: Paper) -> Summary:
        """One paper (`digest tag --title`); nothing is stored. A paper the model
        fails on gets the offline backend's summary, marked as a fallback."""
        (outcome,) = self.summarize_many([paper])
        if outcome.summary is not None:
            return outcome.summary
        reason = outcome.failure.reason if outcome.failure else "no summary"
        return self._offline.stand_in(paper, failed=f"{self.name}:{self.model}", reason=reason)

    def summarize_many(
        self, papers: Collection[Paper], *, should_stop: StopCheck = never
    ) -> Iterator[Outcome]:
        """Summarise `papers` concurrently, yielding each outcome as it finishes. A
        setup problem raises BackendError once the requests in flight are out."""
        if papers:
            yield from outcomes(lambda put: self._batch(papers, should_stop, put))

    # --- the batch --------------------------------------------------------------

    def _client(self) -> openai.AsyncOpenAI:
        import openai

        if self._client_factory is not None:
            return self._client_factory()
        if self._api_key is None:
            raise MissingKeyError(
                f"No API key: set {self.llm.api_key_env} (or [llm] api_key_env) "
                "or use --backend offline"
            )
        self._watch = ServerWatch()
        hooks = {"response": [self._watch.on_response]}
        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            timeout=self.llm.timeout,
            max_retries=self.llm.max_retries,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks=hooks),
        )

    async def _batch(self, papers: Collection[Paper], should_stop: StopCheck, put: Put) -> None:
        run = RunState(should_stop=should_stop)
        async with self._client() as client:
            await work_through(
                papers, self.llm.concurrency, run, lambda p: self._paper(client, p, run), put
            )

    # --- one paper --------------------------------------------------------------

    async def _paper(self, client: openai.AsyncOpenAI, paper: Paper, run: RunState) -> Outcome:
        prompt = user_message(paper)
        estimate = run.estimate(self._fixed_chars + len(prompt), self.llm)
        cap = self.llm.max_cost_per_run
        if run.stopped is None and cap is not None and run.spent + run.reserved + estimate > cap:
            run.stopped = f"cost cap reached: [llm] max_cost_per_run = {cap:g}"
        if run.stopped is not None:
            return Outcome(paper, failure=Failure(run.stopped, SKIPPED))
        run.reserved += estimate
        try:
            return await self._ask(client, paper, prompt, run)
        finally:
            run.reserved -= estimate

    def request_for(self, paper: Paper) -> dict[str, Any]:
        """The chat-completions request for a paper, as sent (bench/llm.py reuses it)."""
        return self._request(self._messages(user_message(paper)))

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self._system}, {"role": "user", "content": prompt}]

    async def _ask(
        self, client: openai.AsyncOpenAI, paper: Paper, prompt: str, run: RunState
    ) -> Outcome:
        import openai

        messages = self._messages(prompt)
        calls: list[LLMCall] = []
        error = ""
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                await run.pace(self.llm.requests_per_minute)
                completion = await client.chat.completions.create(**self._request(messages))
            except openai.APIError as exc:
                self._check_server()
                latency = (time.perf_counter() - started) * 1000
                return self._failed(paper, exc, run, [*calls, LLMCall("error", latency)])
            self._check_server()
            call = call_record(completion, (time.perf_counter() - started) * 1000, self.llm)
            run.spent += call.cost
            run.max_output = max(run.max_output, call.output_tokens or 0)
            try:
                reply = read_reply(completion, self.vocabulary, self.llm.max_output_tokens)
                check_reply(reply, title=paper.title or "", instructions=self._system)
            except ReplyError as exc:
                error = str(exc)
                calls.append(replace(call, status="invalid", error=error))
                said = what_was_said(completion)[:4000] or "(nothing)"
                messages += [
                    {"role": "assistant", "content": said},
                    {"role": "user", "content": repair_message(error)},
                ]
                continue
            calls.append(replace(call, status="ok" if attempt == 1 else "repaired"))
            run.failures = 0
            return Outcome(paper, self._summary(reply), calls=tuple(calls))
        reason = f"invalid reply, also after a repair attempt: {error}"
        run.count_failure(reason, self._setup_hint)
        return Outcome(paper, failure=Failure(reason), calls=tuple(calls))

    def _check_server(self) -> None:
        """Stop the run at the first answer no OpenAI-compatible API would give."""
        message = self._watch.message(self.base_url)
        if message is not None:
            raise SetupProblem(message)

    def _request(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.llm.max_output_tokens,  # never unbounded: see [llm]
        }
        if self._format is not None:
            request["response_format"] = self._format
        if self.llm.temperature is not None:
            request["temperature"] = self.llm.temperature
        return request

    def _failed(
        self, paper: Paper, exc: openai.APIError, run: RunState, calls: list[LLMCall]
    ) -> Outcome:
        """A request that failed after the SDK's retries: stop the run, or fail the paper."""
        from digest.backends.llm_errors import QUOTA, RUN, classify

        problem = classify(
            exc,
            base_url=self.base_url,
            model=self.model,
            mode=self.llm.structured_output,
            key_env=self.llm.api_key_env,
            timeout=self.llm.timeout,
            retries=self.llm.max_retries,
            secret=self._api_key,
        )
        if problem.scope == RUN:
            raise SetupProblem(problem.message)
        calls[-1] = replace(calls[-1], error=problem.message)
        if problem.scope == QUOTA:
            run.stopped = run.stopped or problem.message
        else:
            run.count_failure(problem.message, "" if problem.says_fix else self._setup_hint)
        return Outcome(paper, failure=Failure(problem.message), calls=tuple(calls))

    def _summary(self, reply: Reply) -> Summary:
        return Summary(
            tldr=reply.tldr,
            summary=reply.summary,
            tags=reply.tags,
            backend=self.name,
            model=self.model,
            prompt_version=self.prompt_version,
        )
