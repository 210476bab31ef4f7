"""Word tables and cue patterns for the offline backend, kept apart from its logic.

First the TL;DR rules (which sentence states the contribution, how to
rewrite it in label style), then the per-tag keyword tables. Patterns are
compiled once, here, at import.

Each default tag has phrases in three strengths (3 = nearly decisive,
2 = good evidence, 1 = weak hint). They were written from what each tag
*means* in machine-learning usage, not from individual labelled papers, so
they should carry over to papers nobody has seen. Matching is on lowercase
word tokens with plurals folded and British -is- spellings turned into
-iz-, so list one form per word (but list verb and noun forms separately).
The longest phrase wins: "latent code" hides "code".

Tags a user adds that are not listed here are matched on the words of their
name and meaning instead (see `offline.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from digest import text


def _words(text: str) -> frozenset[str]:
    """A word set written as one string, to keep long tables readable."""
    return frozenset(text.split())


# Words after which a full stop does not end a sentence: one list (text.py) for
# the offline backend's splitter and the model-reply checks.
ABBREVIATIONS = text.ABBREVIATIONS

# Verbs after "we" / "this paper" that say what a paper does. MAKE names a
# contribution (the best TL;DR opener), STUDY an analysis, FIND a result.
MAKE = _words(
    "propose introduce present develop design devise formulate build construct release create "
    "establish derive offer put"
)
STUDY = _words(
    "study investigate explore analyze analyse examine describe provide extend identify leverage "
    "use train learn apply address tackle characterize characterise argue survey review evaluate "
    "compare report frame reformulate generalize generalise unify quantify measure consider "
    "focus pretrain decompose replace adapt augment combine model revisit rethink bridge posit "
    "cast treat view interpret map"
)
FIND = _words("show find demonstrate prove reveal discover observe confirm suggest")
# Listed verbs that are as often nouns: "X and design" is no verb to conjugate.
NOUN_TOO = _words(
    "design model map review survey study report use view focus measure release present cast "
    "frame offer put bridge address interpret"
)
# Words that may sit between the subject and its verb ("we also propose").
ADVERBS = _words(
    "also further then first now here thus therefore additionally finally instead hence "
    "next second third empirically theoretically formally experimentally"
)

VERB_BASES = MAKE | STUDY | FIND
AND_VERB = re.compile(r"\b(and (?:we )?)([a-z]+)\b")


@lru_cache(maxsize=8192)
def base_form(verb: str) -> str | None:
    """The listed base verb behind "proposes", "studied", "proposing"; else None."""
    v = verb.lower()
    for cut, add in (
        ("", ""),
        ("s", ""),
        ("es", ""),
        ("d", ""),
        ("ed", ""),
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ing", "e"),
    ):
        if v.endswith(cut) and v[: len(v) - len(cut)] + add in VERB_BASES:
            return v[: len(v) - len(cut)] + add
    return None


def third_person(base: str) -> str:
    """ "propose" -> "proposes", "study" -> "studies": the label style of a TL;DR."""
    if base.endswith(("s", "sh", "ch", "x", "z")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def conjugate_and(match: re.Match[str]) -> str:
    """ "… and show" -> "… and shows" after a rewritten verb; nouns like "design" stay."""
    word = match.group(2)
    if word in VERB_BASES and word not in NOUN_TOO:
        return match.group(1) + third_person(word)
    return match.group()


def unfill(match: re.Match[str]) -> str:
    """Drop "novel"/"new", fixing the article: "a novel approach" -> "an approach"."""
    article = match.group("art")
    if not article:
        return ""
    return article[0] + ("n " if match.group("nx").lower() in "aeio" else " ")


# --- TL;DR cue patterns -----------------------------------------------------
# "[In this paper,] [here,] we / this paper / our work" + a verb (checked in code).
SUBJECT = re.compile(
    r"\b(?:we|(?:this|the (?:current|present)) (?:paper|work|study|article|note|letter|thesis)|"
    r"our (?:work|paper))\b\s*",
    re.I,
)
LEAD_SUBJECT = re.compile(
    r"(?:\bin this (?:paper|work|study|article),?\s+)?(?:\bhere,?\s+)?" + SUBJECT.pattern, re.I
)
IN_THIS = re.compile(r"^(?:in this (?:paper|work|study|article),?\s+)?(?:that\s+)?", re.I)
# The rest run on lowercased text; each has a cheap substring pre-check in code.
EVIDENCE_WORDS = ("result", "experiment", "evaluation", "analys")
EVIDENCE = re.compile(
    r"\b(?:results?|experiments?|evaluations?|analys[ie]s)\s+(?:\w+\s+)?(?:show|demonstrate|"
    r"indicate|reveal|confirm|suggest)"
)
BACKGROUND_START = re.compile(
    r"(?:however|recently|despite|while|although|existing|current|traditional|most|many|"
    r"prior|previous|in recent years|over the past)\b"
)
BACKGROUND = re.compile(
    r"\b(?:has|have) (?:recently )?(?:emerged|become|attracted|gained|been widely)\b|"
    r"\bremains? (?:a |an )?(?:challenge|challenging|open|unclear|difficult|limited)\b"
)
BOILERPLATE = re.compile(  # questions, links, "code is available at"
    r"\?$|https?://|\b(?:code|data|models?|weights|implementation)\b[^.]{0,60}"
    r"\b(?:available|github)\b"
)
# Light rewriting towards the label style ("Proposes X, a …").
CONNECTIVE = re.compile(
    r"^(?:moreover|furthermore|additionally|in addition|specifically|finally|remarkably|"
    r"notably|importantly|overall|concretely|experimentally|empirically|in particular|"
    r"to this end|as a result|consequently|thus|therefore|then|second|third|lastly|hence)"
    r"(?:,\s*|\s+(?=we\b))",
    re.I,
)
RESULTS = re.compile(  # "Experiments on X show that Y" -> "Y" in a second clause
    r"^(?:extensive |comprehensive |our |the )?(?:experiment(?:al result)?s?|results?|"
    r"evaluations?|empirical(?:ly| results?)|analys[ie]s)\b[^,;]{0,60}? (?:show|demonstrate|"
    r"indicate|reveal|confirm|suggest|verify|validate)s? that ",
    re.I,
)
BY_DOING = re.compile(  # "addresses this gap by proposing X" -> "proposes X"
    r"^(?:address|tackle|overcome|solve|bridge|fill|mitigate|close)\w* [^,;]{0,50}? by (\w+ing)\b",
    re.I,
)
PAREN = re.compile(r" \((?:[^()]{0,60})\)(?=[\s,.;:])")  # "(LSM)", "(e.g., X)"
CALLED = re.compile(  # "a framework called X" -> "X"
    r"\b(?:an?|the) (?:\w+ )?(?:framework|approach|method|model|technique|paradigm|algorithm|"
    r"architecture|system|module|pipeline) (?:called|named|termed|dubbed),? (?=\S)",
    re.I,
)
FILLER = re.compile(
    r"\b(?:(?P<art>[Aa]n?) )?(?:novel|new|simple yet effective|simple but effective) (?=(?P<nx>\w))"
)
# Where a too-long TL;DR may be cut, unless the cut leaves one of DANGLING last.
CLAUSE = re.compile(r"[,;:]\s+|\s+(?:which|where|while|whereas|thereby|and thus)\s+|\s[–—-]\s")
# Where a clause joined to a TL;DR may end: before an adjunct phrase it can do without.
ADJUNCT = re.compile(r"\s+(?=(?:by|using|via|through|without|across|while|when|compared to)\s)")
DANGLING = _words("that which who a an the of to for with and or by in on as at from")

# --- tags ----------------------------------------------------------------------
# Not evidence for any tag derived from a user's own tag name or meaning.
STOPWORDS = _words(
    "a an and or the of for in on to with by from as at is are be via into its their this "
    "that these those other beyond than such e g eg ie etc models model methods method based "
    "using use learning tasks task new approach approaches work works papers paper"
)
TOKEN = re.compile(r"[^\W_]+")
BRITISH = re.compile(r"is(ation|ations|e|ed|es|ing|er|ers)$")


@lru_cache(maxsize=65536)
def normalize(token: str) -> str:
    """Fold British -is- spellings and plurals so one keyword form suffices."""
    t = BRITISH.sub(r"iz\1", token) if len(token) > 5 else token
    if len(t) > 4 and t.endswith("ies"):
        return t[:-3] + "y"
    if len(t) > 4 and t.endswith(("sses", "ches", "shes", "xes")):
        return t[:-2]
    if len(t) > 3 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
        return t[:-1]
    return t


def derived_phrases(name: str, meaning: str) -> dict[int, list[str]]:
    """Keywords for a tag without a curated list: its name and its meaning's words."""
    name_words = [w for w in re.split(r"[-_\s]+", name.lower()) if len(w) > 1]
    items = [i.strip() for i in re.split(r"[,:;()/]|\band\b|\bor\b", meaning) if i.strip()]
    words = {w for w in TOKEN.findall(meaning.lower()) if len(w) > 2}
    return {
        3: [" ".join(name_words), *(w for w in name_words if w not in STOPWORDS)],
        2: [i for i in items if len(i.split()) > 1],
        1: sorted(words - STOPWORDS),
    }


# tag -> {weight: "phrase, phrase, ..."}
KEYWORDS: dict[str, dict[int, str]] = {
    "llm": {
        3: "large language model, llm, gpt, llama, chatgpt, mistral, qwen, instruction tuning,"
        " instruction tuned, in-context learning, scaling law, pretrained language model,"
        " pre-trained language model, language model pretraining, foundation model,"
        " language model, small language model",
        2: "next-token prediction, decoder-only, autoregressive language, prompting, prompt,"
        " hallucination, long context, context window, kv cache, chatbot, transformer language",
        1: "transformer, pretraining, pre-training, fine-tuning, finetuning, token, tokenizer",
    },
    "reasoning": {
        3: "chain of thought, cot, mathematical reasoning, math reasoning, logical reasoning,"
        " latent reasoning, multi-step reasoning, reasoning step, math word problem, gsm8k,"
        " theorem proving, arithmetic reasoning, reasoning trace, reasoning model, reasoning",
        2: "step by step, problem solving, puzzle, deduction, deductive, test-time scaling,"
        " test-time compute, inference-time compute, arithmetic, math, reason",
        1: "logic, logical, solve",
    },
    "alignment": {
        3: "rlhf, reinforcement learning from human feedback, human feedback,"
        " preference optimization,"
        " direct preference optimization, dpo, reward model, reward modeling, human preference,"
        " safety alignment, refusal, post-training, constitutional ai, harmlessness, red teaming,"
        " ai safety, harmful behavior",
        2: "preference data, preference, safety, toxicity, harmful, helpfulness, sycophancy,"
        " value alignment, ppo, jailbreak",
        1: "alignment, align, aligned",
    },
    "interpretability": {
        3: "interpretability, interpretable, mechanistic, sparse autoencoder, probing, probe,"
        " feature attribution, saliency, saliency map, circuit, explainability, explainable,"
        " logit lens, superposition, monosemantic, polysemantic, activation patching,"
        " steering vector, concept bottleneck, model diffing, crosscoder, linear probe,"
        " mechanistic interpretability, interpret",
        2: "explanation, explain, internal representation, neuron, activation, hidden state,"
        " attribution, linear representation, inner working, residual stream, attention head,"
        " feature visualization, intermediate layer",
        1: "analyze, analysis, insight, understanding, understand, layer",
    },
    "diffusion": {
        3: "diffusion, diffusion model, score-based, score matching, flow matching, rectified flow,"
        " denoising diffusion, ddpm, ddim, stable diffusion, latent diffusion, consistency model,"
        " classifier-free guidance, noise schedule, probability flow, reverse diffusion",
        2: "denoising, denoise, denoiser, text-to-image, reverse process, sde,"
        " stochastic differential,"
        " guidance, sampling step, flow-based generative, dit, diffusion transformer",
        1: "sampler, noise, generative model, image generation",
    },
    "vae": {
        3: "variational autoencoder, vae, variational inference, evidence lower bound, elbo,"
        " latent variable model, latent-variable model, amortized inference, variational bayes,"
        " reparameterization trick, posterior collapse, vq-vae, vector quantized, beta-vae,"
        " variational posterior, variational, variational lower bound, latent variable",
        2: "posterior, kl divergence, probabilistic model, approximate posterior,"
        " inference network,"
        " recognition model, bayesian, gaussian process, probabilistic generative",
        1: "generative model, autoencoder, prior, likelihood, decoder, deep generative",
    },
    "gan": {
        3: "generative adversarial network, gan, stylegan, biggan, wasserstein gan, cyclegan,"
        " discriminator, mode collapse, gan inversion, adversarial generative, stylegan2",
        2: "adversarial loss, generator and discriminator",
        1: "generator, adversarial",
    },
    "representation-learning": {
        3: "representation learning, self-supervised, self-supervision, contrastive learning,"
        " contrastive, disentangled, disentanglement, disentangle, simclr, moco, byol,"
        " masked autoencoder, pretext task, invariant representation, metric learning,"
        " sentence embedding, feature learning, joint embedding, jepa, learning representation,"
        " learned representation, representation space, embedding space, unsupervised"
        " representation, visual representation",
        2: "representation, embedding, latent space, latent representation, autoencoder,"
        " unsupervised, manifold, pretrained feature, linear probing, transfer learning,"
        " latent code, feature space, clustering, invariance, equivariant, equivariance,"
        " encoder, semantic space",
        1: "latent, feature, encode, downstream, zero-shot, similarity",
    },
    "reinforcement-learning": {
        3: "reinforcement learning, rl, offline rl, policy optimization, policy gradient,"
        " q-learning,"
        " markov decision process, mdp, reward shaping, actor-critic, model-based rl,"
        " atari, mujoco, value function, rlvr, sample efficiency, exploration",
        2: "policy, reward, return, sample-efficient, ppo, bandit",
        1: "agent, environment, trajectory, action, control, episode",
    },
    "multimodal": {
        3: "multimodal, multi-modal, vision-language, vision language model, vlm, image-text,"
        " text-image, visual question answering, vqa, image captioning, captioning, audio-visual,"
        " cross-modal, vision and language, llava, clip, mllm, text-to-image, text-to-video,"
        " modality, text-to-audio, text-to-speech, visual language, lmm",
        2: "image and text, language-guided, text-guided, text prompt, grounding, grounded,"
        " visual instruction, caption, text-conditioned",
        1: "vision, visual, audio",
    },
    "computer-vision": {
        3: "computer vision, object detection, segmentation, image classification, imagenet,"
        " convolutional, cnn, vision transformer, vit, image generation, image editing,"
        " super-resolution, inpainting, semantic segmentation, depth estimation, image synthesis,"
        " image restoration, cifar, coco, visual recognition, face, photo, image compression",
        2: "image, vision, visual, pixel, scene, style transfer, resolution, recognition, editing,"
        " high-resolution, photorealistic, fid",
        1: "object, detection, image-based, shape, texture",
    },
    "video": {
        3: "video, video generation, video prediction, action recognition, text-to-video,"
        " spatiotemporal, temporal consistency",
        2: "frame, animation, animate",
        1: "motion, temporal, movie",
    },
    "3d": {
        3: "3d, nerf, neural radiance field, radiance field, gaussian splatting, point cloud, mesh,"
        " novel view synthesis, multi-view, human motion, motion generation, avatar, voxel,"
        " signed distance, sdf, 3d reconstruction, shape generation",
        2: "depth, pose, gesture",
        1: "shape, geometry, reconstruction, scene, motion, body",
    },
    "audio-speech": {
        3: "audio, speech, music, speaker, voice, asr, speech recognition, text-to-speech, tts,"
        " acoustic, sound, waveform, spectrogram, vocoder, singing",
        2: "listening, spoken, phoneme, co-speech",
        1: "rhythm",
    },
    "nlp": {
        3: "natural language processing, nlp, machine translation, translation, question answering,"
        " topic model, topic modeling, word embedding, word2vec, glove, text classification,"
        " sentiment, named entity, parsing, syntax, syntactic, multilingual, cross-lingual,"
        " summarization, dialogue, linguistic, lexical, masked language model, bert",
        2: "sentence, word, corpus, document, morphology, reading comprehension,"
        " language understanding, natural language, text generation",
        1: "language, text, textual, semantic, vocabulary, tokenization",
    },
    "efficiency": {
        3: "compression, compress, quantization, quantize, quantized, pruning, prune, distillation,"
        " knowledge distillation, speedup, speed-up, accelerate, acceleration, latency, low-rank"
        " adaptation, lora, parameter-efficient, lightweight, flop, one-step, few-step,"
        " inference cost, throughput, memory footprint, real-time, orders of magnitude faster",
        2: "efficiency, efficient, fast, faster, cheap, computational cost, sparsity, speed,"
        " reduce computation, overhead, inference speed, training cost, compute",
        1: "memory, cost, scalable, sparse, budget, low-rank",
    },
    "theory": {
        3: "theoretical, theoretically, theory, theorem, proof, prove, provably,"
        " generalization bound,"
        " identifiability, identifiable, convergence, sample complexity, pac, formalize,"
        " lemma, asymptotic, upper bound, lower bound, information geometry",
        2: "bound, guarantee, characterize, principled, formal, closed-form, rigorous,"
        " mathematical framework, information-theoretic, regret",
        1: "analysis, optimal, analytically",
    },
    "causality": {
        3: "causal, causality, counterfactual, intervention, interventional, confounder,"
        " confounding, causal discovery, causal representation, treatment effect, do-calculus,"
        " structural causal model, scm",
        2: "cause, spurious correlation, instrumental variable, invariant prediction",
        1: "effect",
    },
    "recommender-systems": {
        3: "recommendation, recommender, collaborative filtering, click-through, ctr,"
        " user preference, user-item, item, personalized recommendation, sequential recommendation",
        2: "user, ranking, search engine, personalization, information retrieval",
        1: "retrieval, query, search, personalized",
    },
    "graphs": {
        3: "graph neural network, gnn, graph, message passing, link prediction, knowledge graph,"
        " graph generation, molecular graph, node classification, graph representation",
        2: "node, edge, network structure, topology, relational",
        1: "molecule, structure",
    },
    "time-series": {
        3: "time series, time-series, forecasting, forecast, dynamical system, weather, climate,"
        " differential equation, neural ode, ode, temporal dynamics, sequential data,"
        " partial differential equation, pde",
        2: "dynamics, longitudinal, spatiotemporal, physical system, rnn, lstm, state space,"
        " state-space, temporal",
        1: "trajectory, recurrent, sequence, sequential, time, dynamic",
    },
    "agents-robotics": {
        3: "agent, agentic, robot, robotic, robotics, manipulation, embodied, navigation, tool use,"
        " locomotion, autonomous driving, vision-language-action, vla, web agent,"
        " imitation learning, world model",
        2: "planning, plan, planner, task planning, tool, simulator, interactive",
        1: "control, policy, action, environment, simulation, goal, decision",
    },
    "science": {
        3: "biology, biological, protein, molecule, molecular, chemistry, chemical, drug, medical,"
        " medicine, clinical, health, healthcare, patient, neuroscience, neural activity, brain,"
        " fmri, eeg, physics, genomic, gene, genomics, single-cell, material, cancer,"
        " disease, neural population, scientific, astronomy, ecology, neural recording",
        2: "physical, biomedical, cognitive, cognition, human behavior, diagnosis, pde,"
        " partial differential equation, cell",
        1: "experiment, particle",
    },
    "code": {
        3: "code generation, program synthesis, programming, source code, software, compiler,"
        " coding, codebase, humaneval, programming language, code model, code language model,"
        " code completion, code llm",
        2: "program, python, abstract syntax tree, bug",
        1: "code, repository, execution, function",
    },
    "security-privacy": {
        3: "security, adversarial attack, adversarial example, adversarial robustness, jailbreak,"
        " prompt injection, privacy, differential privacy, membership inference, watermark,"
        " watermarking, backdoor, poisoning, attack, malicious, unlearning",
        2: "defense, adversarial, attacker, vulnerability, vulnerable, leakage, threat, private",
        1: "perturbation, robustness, safe",
    },
    "survey": {
        3: "survey, position paper, systematic review, this position, we review, literature review,"
        " comprehensive review",
        2: "review, overview, tutorial, taxonomy, perspective, we argue, open problem,"
        " future direction, landscape",
        1: "argue, discuss, literature, summarize, outline",
    },
    "benchmark-dataset": {
        3: "new benchmark, new dataset, evaluation protocol, leaderboard, evaluation suite,"
        " testbed,"
        " we release, benchmarking, evaluation framework, model zoo, large-scale dataset,"
        " we collect, we curate",
        2: "benchmark, dataset, annotated, annotation, suite, data collection, human evaluation",
        1: "evaluation, evaluate, metric, corpus",
    },
}
