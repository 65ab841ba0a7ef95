"""What people write: sentiment, themes, theme impact on the score, and verbatims.

Input is the ``comments`` table of the contract (:mod:`hxmetrics.tables`:
``comment_id``, ``silo``, ``source_id``, ``timestamp``, ``text``, optional
``response_id`` and ``touchpoint``), or any frame with a text column (ticket
descriptions: ``text="description"``), from any frame narwhals reads (converted with
:func:`hxmetrics.tables.as_pandas` at the door; the computation is pandas, numpy,
vaderSentiment and scikit-learn).

* :func:`comment_sentiment`: VADER (Hutto & Gilbert 2014), a lexicon and rule-based
  method with a permissive licence (MIT) whose lexicon ships with the package: no model
  is downloaded. Each comment gets VADER's ``compound`` (-1 to 1) and the shares of
  positive, neutral and negative words; a comment is *positive* when ``compound >=
  0.05``, *negative* when ``compound <= -0.05``, *neutral* between (the thresholds of
  the VADER README). Per group: the mean compound with a t interval and the
  percentages positive, neutral and negative.
* :func:`comment_themes`: caller-defined themes (keyword and regular-expression rules,
  with the matched spans), or data-driven themes (non-negative matrix factorisation of
  the TF-IDF matrix, Lee & Seung 1999; reproducible under ``random_state``), each
  comment's themes and the sentiment per theme.
* :func:`theme_impact`: the difference in the linked score between answers whose
  comment mentions a theme and those whose comment does not (Welch's t interval), and
  the key drivers (:func:`hxmetrics.measures.drivers.key_drivers`) over the theme
  indicators.
* :func:`verbatims`: a few comments per theme, redacted
  (:func:`hxmetrics.privacy.redact_identifiers`), never from a group under the
  minimum size.

Privacy: the tables of comments carry the comment id and the group columns, never the
text; the texts are redacted before data-driven themes are fitted (so no identifier
can become a theme's top term) and before any verbatim is shown. Every group of
fewer than ``min_n`` non-empty comments (and its complement, where one hidden group
could be recovered) is suppressed, and its comments are left out of the per-comment
tables (counted in ``settings["n_suppressed_comments"]``). Text measures default to
``min_n = 5`` (:data:`hxmetrics.privacy.DEFAULT_MIN_N`): a few comments identify
their writers more easily than a few scores.

Rows excluded are counted: ``empty`` (missing, empty or whitespace-only text),
``unlinked`` (in :func:`theme_impact`: no ``response_id``, a response not found or
without a score). A text column that does not hold text raises
:class:`~hxmetrics.errors.InputTableError` naming the column and rows.

VADER is a rule engine applied to one text at a time: it runs once per distinct
text (a Python call per distinct comment, about 0.25 ms each); the rest is
vectorised.

References
----------
Hutto, C. J. & Gilbert, E. (2014). VADER: A parsimonious rule-based model for
sentiment analysis of social media text. Proceedings of ICWSM-14. (The thresholds
±0.05: the vaderSentiment README, "About the scoring".)
Lee, D. D. & Seung, H. S. (1999). Learning the parts of objects by non-negative matrix
factorization. Nature 401, 788-791.
Salton, G. & Buckley, C. (1988). Term-weighting approaches in automatic text
retrieval. Information Processing & Management 24(5), 513-523.
Welch, B. L. (1947). The generalization of "Student's" problem when several different
population variances are involved. Biometrika 34, 28-35.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hxmetrics._display import DataclassDisplay
from hxmetrics.errors import HxWarning, InputTableError, ParameterError, check_columns
from hxmetrics.measures._inference import (
    check_confidence,
    check_random_state,
    t_interval,
    welch_df,
)
from hxmetrics.measures._result import grouped_result
from hxmetrics.privacy import DEFAULT_MIN_N, check_group_columns, check_min_n, suppress
from hxmetrics.privacy import PLACEHOLDERS as _PLACEHOLDERS
from hxmetrics.privacy import redact_identifiers as _redact
from hxmetrics.tables import as_pandas

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "NEGATIVE_THRESHOLD",
    "POSITIVE_THRESHOLD",
    "SentimentResult",
    "ThemeImpactResult",
    "ThemesResult",
    "comment_sentiment",
    "comment_themes",
    "theme_impact",
    "verbatims",
]

#: A comment is positive when VADER's compound is at least this (the VADER README).
POSITIVE_THRESHOLD = 0.05
#: A comment is negative when VADER's compound is at most this (the VADER README).
NEGATIVE_THRESHOLD = -0.05

_TABLE = "comments"
_ID = "comment_id"
_EXTRA = '"hxmetrics[text]"'
_SEPARATOR = "\x00"
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in _PLACEHOLDERS.values()))


# --------------------------------------------------------------------------- engines


@functools.cache
def _analyzer() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise ImportError(f"comment sentiment needs vaderSentiment: pip install {_EXTRA}") from exc
    return SentimentIntensityAnalyzer()


def _sklearn() -> tuple[Any, Any]:
    try:
        from sklearn.decomposition import NMF
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError as exc:
        raise ImportError(f"data-driven themes need scikit-learn: pip install {_EXTRA}") from exc
    return TfidfVectorizer, NMF


# --------------------------------------------------------------------------- input


@dataclass
class _Comments:
    """The comments as the measures read them (pandas, one row per input row)."""

    frame: pd.DataFrame
    text: pd.Series  # object: str, or None where empty
    keep: np.ndarray  # non-empty text
    by: list[str]
    codes: np.ndarray  # group of each row
    keys: pd.DataFrame  # one row per group
    ids: np.ndarray  # comment id (or row position) of each row
    id_name: str


def _by_columns(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    for c in cols:
        if not isinstance(c, str):
            raise ParameterError(f"by must name columns of comments; got {type(c).__name__}.")
    if len(set(cols)) != len(cols):
        raise ParameterError(f"by names a column twice: {cols}.")
    check_group_columns(cols)
    return cols


def _text_values(df: pd.DataFrame, column: str) -> pd.Series:
    raw = df[column]
    dtype = raw.dtype
    textual = pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
    if not textual or isinstance(dtype, pd.CategoricalDtype):
        if isinstance(dtype, pd.CategoricalDtype):
            raw = raw.astype(object)
        else:
            raise InputTableError(
                f"table {_TABLE!r}: column {column!r} must hold text; its dtype is {dtype}. "
                "Pass the column of the comments' text (text=...).",
                table=_TABLE,
                failure_cases=pd.DataFrame(
                    {
                        "column": [column],
                        "check": ["text"],
                        "failure_case": [str(dtype)],
                        "index": [None],
                    }
                ),
            )
    values = raw.astype(object)
    present = values.notna().to_numpy()
    # A string dtype holds text; an object column is checked in C (infer_dtype) and
    # only searched value by value when something else is in it.
    mixed = pd.api.types.is_object_dtype(dtype) and (
        pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty")
    )
    bad = (
        present & ~values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if mixed
        else np.zeros(len(values), dtype=bool)
    )
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise InputTableError(
            f"table {_TABLE!r}: column {column!r} must hold text or be empty; "
            f"{int(bad.sum())} row(s) hold something else (numbers, dates, ...), e.g. at "
            f"row positions {rows} (values not shown).",
            table=_TABLE,
            failure_cases=pd.DataFrame(
                {"column": column, "check": "text", "failure_case": None, "index": rows}
            ),
        )
    values = values.where(present, None)
    blank = ~present | values.fillna("").str.strip().eq("").to_numpy(dtype=bool)
    return values.where(~blank, None)


def _prepare(
    comments: Any, *, text: str, by: str | Sequence[str] | None, extra: Sequence[str] = ()
) -> _Comments:
    if not isinstance(text, str):
        raise ParameterError(f"text must name the column of the comments; got {text!r}.")
    cols = _by_columns(by)
    df = as_pandas(comments, table=_TABLE).reset_index(drop=True)
    check_columns(df.columns, [text, *cols, *extra], table=_TABLE)
    values = _text_values(df, text)
    keep = values.notna().to_numpy()
    if cols:
        grouped = df.groupby(cols, sort=True, dropna=False, observed=True)
        codes = grouped.ngroup().to_numpy()
        keys = grouped.size().reset_index()[cols]
    else:
        codes = np.zeros(len(df), dtype=np.int64)
        keys = pd.DataFrame(index=range(1))
    if _ID in df.columns:
        ids = df[_ID].astype(object).to_numpy()
        id_name = _ID
    else:
        ids = np.arange(len(df))
        id_name = "row"
    return _Comments(df, values, keep, cols, codes, keys, ids, id_name)


def _mean_t(
    x: np.ndarray, codes: np.ndarray, size: int, confidence: float
) -> tuple[np.ndarray, ...]:
    """Per-group n, mean, se and t interval of ``x`` (codes index the groups)."""
    n = np.bincount(codes, minlength=size).astype(float)
    s1 = np.bincount(codes, weights=x, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        dev = x - mean[codes]
        ss = np.bincount(codes, weights=dev * dev, minlength=size)
        se = np.sqrt(ss / (n - 1) / n)
    se = np.where(n > 1, se, np.nan)
    mean = np.where(n > 0, mean, np.nan)
    low, high = t_interval(mean, se, n - 1, confidence)
    return n.astype(np.int64), mean, se, low, high


def _hidden_groups(comments: _Comments, min_n: int | None) -> np.ndarray:
    """Groups hidden (primary and complementary) by their count of non-empty comments."""
    size = len(comments.keys)
    n = np.bincount(comments.codes[comments.keep], minlength=size)
    frame = comments.keys.copy()
    frame["n"] = n
    out = suppress(frame, min_n=min_n, by=comments.by)
    return out["suppressed"].to_numpy(dtype=bool)


def _compound(texts: pd.Series) -> pd.DataFrame:
    """VADER's scores of each text (computed once per distinct text)."""
    analyzer = _analyzer()
    codes, unique = pd.factorize(texts.to_numpy(dtype=object))
    scores = [analyzer.polarity_scores(t) for t in unique]  # VADER: one text at a time
    table = pd.DataFrame.from_records(scores, columns=["compound", "pos", "neu", "neg"])
    values = table.to_numpy(dtype=float)[codes] if len(codes) else np.empty((0, 4))
    return pd.DataFrame(values, columns=["compound", "pos", "neu", "neg"], index=texts.index)


def _tone(compound: np.ndarray) -> np.ndarray:
    return np.where(
        compound >= POSITIVE_THRESHOLD,
        "positive",
        np.where(compound <= NEGATIVE_THRESHOLD, "negative", "neutral"),
    ).astype(object)


def _check_common(confidence: Any, min_n: Any) -> tuple[float, int | None]:
    return check_confidence(confidence), check_min_n(min_n)


# --------------------------------------------------------------------------- sentiment


@dataclass(frozen=True)
class SentimentResult(DataclassDisplay):
    """VADER sentiment of comments: per comment and per group.

    Attributes
    ----------
    comments : pandas.DataFrame
        One row per non-empty comment of a shown group: ``comment_id`` (or ``row``,
        the position, when the input has no ids), the group columns, ``compound``,
        ``pos``, ``neu``, ``neg`` and ``tone`` (positive, neutral, negative). Never
        the text.
    groups : pandas.DataFrame
        The grouped result (``measure`` = ``"comment_sentiment"``): ``n`` comments,
        ``estimate`` = mean compound (-1 to 1) with ``se`` and the t interval,
        ``pct_positive``, ``pct_neutral``, ``pct_negative`` (0-100),
        ``n_excluded_empty``, ``suppressed``.
    settings : dict
        Thresholds, lexicon, ``min_n``, ``n_suppressed_comments``.
    """

    comments: pd.DataFrame
    groups: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The grouped result (a copy of :attr:`groups`)."""
        return self.groups.copy()

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Mean compound per group with its interval (suppressed groups labelled)."""
        from hxmetrics.plotting import plot_estimates

        return plot_estimates(self.groups, reference=0.0, xlabel="mean VADER compound", ax=ax)


def comment_sentiment(
    comments: Any,
    *,
    text: str = "text",
    by: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    min_n: int | None = DEFAULT_MIN_N,
) -> SentimentResult:
    """Sentiment of each comment (VADER) and per group.

    Parameters
    ----------
    comments : DataFrame
        The ``comments`` table (or any frame with a text column).
    text : str, default "text"
        The column of the text.
    by : str or sequence of str, optional
        Group columns (``"silo"``, ``"touchpoint"``, ``"role"``...).
    confidence : float, default 0.95
        Level of the t interval of the mean compound.
    min_n : int or None, default 5
        Smallest group shown (in non-empty comments); smaller groups and their
        complements are suppressed, and their comments left out of
        :attr:`SentimentResult.comments`.

    Returns
    -------
    SentimentResult

    Raises
    ------
    InputTableError
        A missing column, or a text column holding numbers, dates or other non-text
        values (the rows named, never the values).

    References
    ----------
    Hutto & Gilbert (2014); the vaderSentiment README (thresholds ±0.05).

    Examples
    --------
    >>> import pandas as pd
    >>> res = comment_sentiment(pd.DataFrame({"text": ["VADER is smart, handsome, and funny."]}),
    ...                         min_n=None)
    >>> float(res.comments["compound"].iloc[0])
    0.8316
    """
    confidence, min_n = _check_common(confidence, min_n)
    c = _prepare(comments, text=text, by=by)
    size = len(c.keys)
    scores = _compound(c.text[c.keep])
    x = scores["compound"].to_numpy(dtype=float)
    codes = c.codes[c.keep]
    n, mean, se, low, high = _mean_t(x, codes, size, confidence)
    tone = _tone(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = {
            f"pct_{t}": 100.0 * np.bincount(codes, weights=(tone == t), minlength=size) / n
            for t in ("positive", "neutral", "negative")
        }
    empty = np.bincount(c.codes[~c.keep], minlength=size)
    groups = grouped_result(
        c.keys,
        measure="comment_sentiment",
        n=n,
        estimate=mean,
        se=se,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        method="t",
        min_n=min_n,
        extra=pct,
        excluded={"empty": empty},
        meta={
            "bounds": (-1.0, 1.0),
            "lexicon": "VADER (vaderSentiment)",
            "thresholds": (NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD),
        },
    )
    hidden = groups["suppressed"].to_numpy(dtype=bool)
    shown = ~hidden[codes]
    table = pd.DataFrame({c.id_name: c.ids[c.keep][shown]})
    for col in c.by:
        table[col] = c.frame[col].to_numpy()[c.keep][shown]
    table = pd.concat([table, scores.loc[shown].reset_index(drop=True)], axis=1).assign(
        tone=tone[shown]
    )
    settings = {
        "thresholds": (NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD),
        "lexicon": "VADER (vaderSentiment)",
        "min_n": min_n,
        "confidence": confidence,
        "n_suppressed_comments": int((~shown).sum()),
    }
    return SentimentResult(table, groups, settings)


# --------------------------------------------------------------------------- themes


def _keyword_regex(keyword: str) -> str:
    """A keyword as a regex: whole words, any whitespace between words, ``*`` a suffix."""
    word = keyword.strip()
    star = word.endswith("*")
    word = word.rstrip("*").strip()
    if not word:
        raise ParameterError(f"themes: a keyword is empty ({keyword!r}).")
    body = r"\s+".join(re.escape(w) for w in word.split())
    return body + (r"\w*" if star else "")


# A rule: its case-insensitive pattern, and (keywords) the same on lower-cased text.
_Rule = tuple[re.Pattern[str], re.Pattern[str] | None]


def _rules(themes: Mapping[str, Any]) -> dict[str, list[_Rule]]:
    if not isinstance(themes, Mapping) or not themes:
        raise ParameterError(
            "themes must be a non-empty mapping of theme name to keywords or regular "
            "expressions, e.g. {'wait time': ['wait*', 'queue', 'on hold']}."
        )
    out: dict[str, list[_Rule]] = {}
    for name, spec in themes.items():
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"themes: a theme name must be a non-empty text; got {name!r}.")
        items = [spec] if isinstance(spec, str | re.Pattern) else list(spec)
        if not items:
            raise ParameterError(f"themes: theme {name!r} has no keywords.")
        keywords = [k for k in items if isinstance(k, str)]
        patterns = [k for k in items if isinstance(k, re.Pattern)]
        other = [k for k in items if not isinstance(k, str | re.Pattern)]
        if other:
            raise ParameterError(
                f"themes: theme {name!r} holds {type(other[0]).__name__}; use texts (keywords) "
                "or compiled regular expressions (re.compile(...))."
            )
        compiled: list[_Rule] = []
        if keywords:
            joined = "|".join(_keyword_regex(k) for k in keywords)
            body = rf"(?<!\w)(?:{joined})(?!\w)"
            # On lower-cased text, without IGNORECASE and behind a class of first
            # letters the regex engine can skip to: about twice as fast.
            lower = "|".join(_keyword_regex(k.lower()) for k in keywords)
            first = "".join(sorted({k.strip().lower()[0] for k in keywords}))
            fast = rf"(?=[{re.escape(first)}])(?<!\w)(?:{lower})(?!\w)"
            compiled.append((re.compile(body, re.IGNORECASE), re.compile(fast)))
        compiled += [(re.compile(p.pattern, p.flags | re.IGNORECASE), None) for p in patterns]
        out[name] = compiled
    return out


def _rule_text(spec: Any) -> str:
    """A theme's keywords and patterns as the caller wrote them, for the summary."""
    items = [spec] if isinstance(spec, str | re.Pattern) else list(spec)
    return " | ".join(i.pattern if isinstance(i, re.Pattern) else str(i) for i in items)


def _match_rules(
    texts: np.ndarray, rules: Mapping[str, list[_Rule]]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Indicators (rows x themes) and spans (row, theme, start, end) of the rules.

    The texts are joined into one string (a NUL between them) so that each pattern
    scans all comments in one pass of the regex engine; a match is placed in its
    comment by a binary search of the offsets.
    """
    clean = pd.Series(texts, dtype=object).str.replace(_SEPARATOR, " ", regex=False)
    lengths = clean.str.len().to_numpy(dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]) if len(clean) else lengths
    joined = _SEPARATOR.join(clean.tolist())
    lowered = joined.lower()
    same = len(lowered) == len(joined)  # lower-casing kept every offset
    hits = np.zeros((len(clean), len(rules)), dtype=bool)
    spans = []
    for k, (name, patterns) in enumerate(rules.items()):
        for careful, fast in patterns:
            pattern, text = (fast, lowered) if fast is not None and same else (careful, joined)
            found = np.array([m.span() for m in pattern.finditer(text)], dtype=np.int64)
            if not found.size:
                continue
            found = found[found[:, 1] > found[:, 0]]  # an empty match marks nothing
            row = np.searchsorted(offsets, found[:, 0], side="right") - 1
            inside = found[:, 1] <= offsets[row] + lengths[row]
            row, found = row[inside], found[inside]
            hits[row, k] = True
            spans.append(
                pd.DataFrame(
                    {
                        "row": row,
                        "theme": name,
                        "start": found[:, 0] - offsets[row],
                        "end": found[:, 1] - offsets[row],
                    }
                )
            )
    table = (
        pd.concat(spans, ignore_index=True).sort_values(["row", "start", "theme"], kind="stable")
        if spans
        else pd.DataFrame(
            {
                "row": pd.Series(dtype=np.int64),
                "theme": pd.Series(dtype=object),
                "start": pd.Series(dtype=np.int64),
                "end": pd.Series(dtype=np.int64),
            }
        )
    )
    return hits, table.reset_index(drop=True)


@functools.cache
def _sentiment_stop_words() -> frozenset[str]:
    """English stop words and VADER's sentiment words (lexicon, boosters, negations).

    Only the words the TF-IDF tokenizer can produce (two or more word characters),
    so that scikit-learn's stop-word consistency check holds.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from vaderSentiment import vaderSentiment as vader

    token = re.compile(r"\w\w+")
    words = [*_analyzer().lexicon, *vader.BOOSTER_DICT, *vader.NEGATE]
    return frozenset(ENGLISH_STOP_WORDS) | {w.lower() for w in words if token.fullmatch(w.lower())}


def _seed(random_state: Any) -> int:
    return int(check_random_state(random_state).integers(0, 2**31 - 1))


def _nmf(
    texts: pd.Series,
    *,
    n_themes: int,
    threshold: float,
    random_state: Any,
    names: Any,
    min_df: int,
    max_features: int,
    n_top_terms: int,
    drop_sentiment_words: bool,
) -> tuple[np.ndarray, np.ndarray, list[str], pd.DataFrame, dict[str, Any]]:
    """Data-driven themes: NMF of the TF-IDF matrix of the redacted texts."""
    TfidfVectorizer, NMF = _sklearn()
    clean = _redact(texts.reset_index(drop=True), names=names).str.replace(
        _PLACEHOLDER_RE, " ", regex=True
    )
    if len(clean) < n_themes:
        raise ParameterError(
            f"comment_themes: {len(clean)} non-empty comment(s) cannot be split into "
            f"n_themes={n_themes} themes; lower n_themes or pass keyword themes."
        )
    stop: Any = sorted(_sentiment_stop_words()) if drop_sentiment_words else "english"
    vectorizer = TfidfVectorizer(
        stop_words=stop,
        min_df=min(min_df, len(clean)),
        max_df=0.95 if len(clean) >= 20 else 1.0,
        max_features=max_features,
        sublinear_tf=True,
    )
    try:
        x = vectorizer.fit_transform(clean.to_numpy(dtype=object))
    except ValueError:
        raise ParameterError(
            "comment_themes: no words are left after English stop words and min_df "
            f"(={min_df}); the comments are too few or too short for data-driven themes."
        ) from None
    terms = vectorizer.get_feature_names_out()
    if terms.size < n_themes:
        raise ParameterError(
            f"comment_themes: the comments have {terms.size} distinct word(s) after stop "
            f"words, fewer than n_themes={n_themes}; lower n_themes."
        )
    seed = _seed(random_state)
    model = NMF(n_components=n_themes, init="nndsvda", random_state=seed, max_iter=500)
    with np.errstate(invalid="ignore"):  # an exact fit: sqrt of a rounding-negative error
        w = model.fit_transform(x)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(total > 0, w / total, 0.0)
    hits = weight >= threshold
    h = model.components_
    top = np.argsort(-h, axis=1, kind="stable")[:, :n_top_terms]
    theme_names = [f"theme_{k + 1}" for k in range(n_themes)]
    term_table = pd.DataFrame(
        {
            "theme": np.repeat(theme_names, top.shape[1]),
            "rank": np.tile(np.arange(1, top.shape[1] + 1), n_themes),
            "term": terms[top].ravel(),
            "weight": np.take_along_axis(h, top, axis=1).ravel(),
        }
    )
    term_table = term_table.loc[term_table["weight"] > 0].reset_index(drop=True)
    info = {
        "seed": seed,
        "n_terms": int(terms.size),
        "reconstruction_err": float(np.nan_to_num(model.reconstruction_err_)),
        "n_iter": int(model.n_iter_),
    }
    return hits, weight, theme_names, term_table, info


@dataclass(frozen=True)
class ThemesResult(DataclassDisplay):
    """Each comment's themes and the themes' volume and sentiment.

    Attributes
    ----------
    comments : pandas.DataFrame
        One row per non-empty comment of a shown group: ``comment_id`` (or ``row``),
        the group columns, ``n_themes`` and one boolean column per theme (named by
        the theme). Never the text.
    themes : pandas.DataFrame
        The grouped result, one row per (group, theme) (``measure`` =
        ``"theme_sentiment"``): ``theme``, ``n`` (comments mentioning it),
        ``estimate`` (their mean VADER compound; NaN with ``sentiment=False``) with
        ``se`` and the t interval, ``pct_comments`` (0-100: share of the group's
        non-empty comments mentioning it), ``pct_positive``, ``pct_negative``,
        ``top_terms`` (a rule theme's keywords and patterns as given; the NMF
        theme's top terms),
        ``suppressed``. Suppression runs per theme over the groups (themes are not a
        partition of the comments: a comment may mention several or none).
    spans : pandas.DataFrame
        Keyword themes: one row per match: ``comment_id`` (or ``row``), ``theme``,
        ``start``, ``end`` (character offsets into the comment's text as given).
        Empty for data-driven themes.
    weights : pandas.DataFrame or None
        Data-driven themes: each comment's share of each theme (rows add up to 1;
        0 for a comment with no word of the vocabulary), with the id column.
    terms : pandas.DataFrame or None
        Data-driven themes: ``theme``, ``rank``, ``term``, ``weight`` (the NMF
        component's loading) for the top terms of every theme that at least
        ``min_n`` comments mention.
    settings : dict
        ``method`` ("rules" or "nmf"), ``threshold``, ``n_themes``, the NMF seed and
        fit, ``min_n``, ``n_excluded_empty``, ``n_suppressed_comments``.
    """

    comments: pd.DataFrame
    themes: pd.DataFrame
    spans: pd.DataFrame
    weights: pd.DataFrame | None = None
    terms: pd.DataFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def theme_names(self) -> list[str]:
        """The themes, in order."""
        return list(self.settings.get("themes", []))

    def indicators(self) -> pd.DataFrame:
        """The per-comment theme indicators (id column and one bool column per theme)."""
        return self.comments[[self.comments.columns[0], *self.theme_names]].copy()

    def summary(self) -> pd.DataFrame:
        """The per-theme result (a copy of :attr:`themes`)."""
        return self.themes.copy()

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Mean sentiment of each theme's comments with its interval."""
        from hxmetrics.plotting import plot_estimates

        return plot_estimates(
            self.themes, reference=0.0, xlabel="mean VADER compound of the theme", ax=ax
        )


def _by_group_then_theme(
    parts: list[pd.DataFrame], by: list[str], themes: list[str]
) -> pd.DataFrame:
    """One table from the per-theme results: rows by group, then theme (an ordered
    categorical in the themes' order), as every grouped result is sorted."""
    table = pd.concat(parts, ignore_index=True)
    table["theme"] = pd.Categorical(table["theme"], categories=themes, ordered=True)
    table = table.sort_values([*by, "theme"], kind="stable").reset_index(drop=True)
    table.attrs = parts[0].attrs
    return table


def _check_threshold(threshold: Any) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value <= 1.0:
        raise ParameterError(
            f"threshold must be a share in (0, 1] (a comment's weight on a theme); "
            f"got {threshold!r}."
        )
    return value


def _check_count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} must be a whole number >= {minimum}; got {value!r}.")
    return int(value)


def comment_themes(
    comments: Any,
    *,
    themes: Mapping[str, Any] | None = None,
    n_themes: int = 8,
    text: str = "text",
    by: str | Sequence[str] | None = None,
    threshold: float = 0.3,
    sentiment: bool = True,
    names: Sequence[str] | None = None,
    min_df: int = 2,
    max_features: int = 5000,
    n_top_terms: int = 8,
    drop_sentiment_words: bool = True,
    random_state: Any = None,
    confidence: float = 0.95,
    min_n: int | None = DEFAULT_MIN_N,
) -> ThemesResult:
    """Themes of comments: keyword rules or data-driven (NMF), with sentiment per theme.

    Parameters
    ----------
    comments : DataFrame
        The ``comments`` table (or any frame with a text column).
    themes : mapping, optional
        Caller-defined themes: theme name -> keywords (texts) or compiled regular
        expressions (``re.compile``), or one of them. Keywords match whole words in
        any case, with any whitespace between the words of a phrase; a trailing ``*``
        matches any ending (``"wait*"``: wait, waiting, waited). Regular expressions
        are used as written, made case-insensitive. None: data-driven themes.
    n_themes : int, default 8
        Data-driven themes: the number of NMF components.
    text : str, default "text"
        The column of the text.
    by : str or sequence of str, optional
        Group columns.
    threshold : float, default 0.3
        Data-driven themes: a comment is on a theme when the theme holds at least
        this share of the comment's NMF weights (each comment's weights are scaled to
        add up to 1, so a comment has at most ``1 / threshold`` themes).
    sentiment : bool, default True
        Compute each theme's mean VADER compound (once per distinct text).
    names : sequence of str, optional
        Names of people, redacted (:func:`hxmetrics.privacy.redact_identifiers`)
        before data-driven themes are fitted, with emails, phones and other
        identifiers (which are always redacted).
    min_df, max_features : int
        Data-driven themes: a word must occur in ``max(min_df, min_n)`` comments (so
        that no term of a theme comes from fewer than ``min_n`` comments); at most
        ``max_features`` words (the most frequent) enter the TF-IDF matrix
        (English stop words removed, sublinear term frequency).
    n_top_terms : int, default 8
        Data-driven themes: terms listed per theme.
    drop_sentiment_words : bool, default True
        Data-driven themes: leave VADER's sentiment words (its lexicon, boosters and
        negations) out of the TF-IDF vocabulary with the stop words, so that themes
        are what people write about, not their tone (which :func:`comment_sentiment`
        measures); otherwise NMF tends to return a "praise" and a "complaint" theme.
        A topic word that VADER scores ("delay", "bill", "pay") is dropped too.
    random_state : int or numpy.random.Generator, optional
        Seed of the NMF initialisation's tie-breaking and solver (the same int, the
        same themes).
    confidence : float, default 0.95
        Level of the t interval of each theme's mean compound.
    min_n : int or None, default 5
        Smallest count shown: groups with fewer non-empty comments are left out of
        :attr:`ThemesResult.comments`; (group, theme) rows with fewer mentions are
        suppressed, with their complements over the groups.

    Returns
    -------
    ThemesResult

    Raises
    ------
    InputTableError
        A missing column or a text column that does not hold text.
    ParameterError
        Badly formed themes; too few comments or words for ``n_themes``.

    References
    ----------
    Lee & Seung (1999) (NMF); Salton & Buckley (1988) (TF-IDF); Hutto & Gilbert
    (2014) (VADER).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"comment_id": ["a", "b", "c"],
    ...                    "text": ["Long queue, waited ages", "Kind staff", "Queue was fine"]})
    >>> res = comment_themes(df, themes={"waiting": ["queue", "wait*"], "staff": "staff"},
    ...                      min_n=None)
    >>> res.comments[["waiting", "staff"]].to_numpy().tolist()
    [[True, False], [False, True], [True, False]]
    >>> res.spans[["theme", "start", "end"]].iloc[0].astype(str).tolist()
    ['waiting', '5', '10']
    """
    confidence, min_n = _check_common(confidence, min_n)
    rules = _rules(themes) if themes is not None else None
    threshold = _check_threshold(threshold)
    if rules is None:
        n_themes = _check_count(n_themes, "n_themes")
        min_df = _check_count(min_df, "min_df")
        max_features = _check_count(max_features, "max_features")
        n_top_terms = _check_count(n_top_terms, "n_top_terms")
    c = _prepare(comments, text=text, by=by)
    kept_text = c.text[c.keep]
    ids = c.ids[c.keep]
    weights_frame = None
    terms = None
    info: dict[str, Any] = {}
    if rules is not None:
        hits, spans = _match_rules(kept_text.to_numpy(dtype=object), rules)
        theme_names = list(rules)
        assert themes is not None
        top_terms = [_rule_text(themes[t]) for t in theme_names]
        method = "rules"
    else:
        hits, weight, theme_names, terms, info = _nmf(
            kept_text,
            n_themes=n_themes,
            threshold=threshold,
            random_state=random_state,
            names=names,
            # A term shown must occur in at least min_n comments.
            min_df=max(min_df, min_n or 1),
            max_features=max_features,
            n_top_terms=n_top_terms,
            drop_sentiment_words=drop_sentiment_words,
        )
        spans = pd.DataFrame(
            {
                "row": pd.Series(dtype=np.int64),
                "theme": pd.Series(dtype=object),
                "start": pd.Series(dtype=np.int64),
                "end": pd.Series(dtype=np.int64),
            }
        )
        top_terms = [
            ", ".join(terms.loc[terms["theme"] == t, "term"].tolist()) for t in theme_names
        ]
        method = "nmf"
    clash = [t for t in theme_names if t in {c.id_name, "n_themes", *c.by}]
    if clash:
        raise ParameterError(
            f"comment_themes: theme name(s) {clash} are also column names of the result; "
            "rename the themes."
        )

    size = len(c.keys)
    codes = c.codes[c.keep]
    compound = (
        _compound(kept_text)["compound"].to_numpy(dtype=float)
        if sentiment
        else np.full(len(kept_text), np.nan)
    )
    group_n = np.bincount(codes, minlength=size)
    parts = []
    for k, theme in enumerate(theme_names):
        on = hits[:, k]
        n, mean, se, low, high = _mean_t(compound[on], codes[on], size, confidence)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = 100.0 * n / group_n
            pos = (
                100.0
                * np.bincount(codes[on], weights=compound[on] >= POSITIVE_THRESHOLD, minlength=size)
                / n
            )
            neg = (
                100.0
                * np.bincount(codes[on], weights=compound[on] <= NEGATIVE_THRESHOLD, minlength=size)
                / n
            )
        if not sentiment:
            pos = neg = np.full(size, np.nan)
        keys = c.keys.copy()
        keys["theme"] = theme
        parts.append(
            grouped_result(
                keys,
                measure="theme_sentiment",
                n=n,
                estimate=mean,
                se=se,
                ci_low=low,
                ci_high=high,
                confidence=confidence,
                method="t",
                min_n=min_n,
                extra={
                    "pct_comments": pct,
                    "pct_positive": pos,
                    "pct_negative": neg,
                    "top_terms": np.array([top_terms[k]] * size, dtype=object),
                },
                meta={"bounds": (-1.0, 1.0), "themes": method},
            )
        )
    summary = _by_group_then_theme(parts, c.by, theme_names)

    hidden = _hidden_groups(c, min_n)
    shown = ~hidden[codes]
    table = pd.DataFrame({c.id_name: ids[shown]})
    for col in c.by:
        table[col] = c.frame[col].to_numpy()[c.keep][shown]
    table["n_themes"] = hits[shown].sum(axis=1).astype(np.int64)
    for k, theme in enumerate(theme_names):
        table[theme] = hits[shown, k]
    rows = np.flatnonzero(shown)
    spans = spans.loc[np.isin(spans["row"].to_numpy(), rows)]
    spans = spans.assign(row=ids[spans["row"].to_numpy()]).rename(columns={"row": c.id_name})
    if method == "nmf":
        weights_frame = pd.DataFrame(weight[shown], columns=theme_names)
        weights_frame.insert(0, c.id_name, ids[shown])
        volume = hits.sum(axis=0)
        small = [t for t, v in zip(theme_names, volume, strict=True) if min_n and v < min_n]
        assert terms is not None
        terms = terms.loc[~terms["theme"].isin(small)].reset_index(drop=True)
        info["n_themes_terms_hidden"] = len(small)
    settings = {
        "method": method,
        "themes": theme_names,
        "threshold": threshold if method == "nmf" else None,
        "n_themes": len(theme_names),
        "min_n": min_n,
        "confidence": confidence,
        "sentiment": bool(sentiment),
        "drop_sentiment_words": bool(drop_sentiment_words) if method == "nmf" else None,
        "n_comments": int(c.keep.sum()),
        "n_excluded_empty": int((~c.keep).sum()),
        "n_suppressed_comments": int((~shown).sum()),
        **info,
    }
    return ThemesResult(
        comments=table.reset_index(drop=True),
        themes=summary,
        spans=spans.reset_index(drop=True),
        weights=weights_frame,
        terms=terms,
        settings=settings,
    )


# --------------------------------------------------------------------------- impact


@dataclass(frozen=True)
class ThemeImpactResult(DataclassDisplay):
    """The effect of mentioning a theme on the linked score.

    Attributes
    ----------
    differences : pandas.DataFrame
        The grouped result, one row per (group, theme) (``measure`` =
        ``"theme_impact"``): ``theme``, ``n`` (linked answers in the group),
        ``estimate`` = mean score of the answers whose comment mentions the theme
        minus that of the answers whose comment does not (points of the score's
        scale), ``se`` and the Welch t interval, ``n_with``, ``n_without``,
        ``mean_with``, ``mean_without``, ``suppressed``. A row is suppressed when
        either side has fewer than ``min_n`` answers.
    drivers : pandas.DataFrame or None
        :func:`hxmetrics.measures.drivers.key_drivers` over the theme indicators
        (0/1) with the score as outcome; None when it could not be fitted (the
        reasons in ``settings["drivers_notes"]``). One fit per group: each group's
        drivers are the themes that vary in it.
    settings : dict
        ``outcome``, the themes used as drivers, ``n_linked``, exclusions
        (``n_excluded_empty``, ``n_excluded_unlinked``, ``n_excluded_not_in_themes``:
        comments a :class:`ThemesResult` does not hold), ``min_n``, the drivers'
        ``method``.
    """

    differences: pd.DataFrame
    drivers: pd.DataFrame | None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The differences (a copy of :attr:`differences`)."""
        return self.differences.copy()

    def plot(self, *, ax: Axes | None = None) -> Axes:
        """Difference in the mean score, mention vs not, per theme, with intervals."""
        from hxmetrics.plotting import plot_estimates

        return plot_estimates(
            self.differences, reference=0.0, xlabel="score difference (mention - not)", ax=ax
        )


def _scores(responses: Any, outcome: str) -> pd.Series:
    """One score per response id: long responses (item/score) or a wide outcome column."""
    table = "responses"
    df = as_pandas(responses, table=table)
    check_columns(df.columns, ["response_id"], table=table)
    if outcome in df.columns:
        rows = df[["response_id", outcome]].rename(columns={outcome: "score"})
    else:
        check_columns(df.columns, ["item", "score"], table=table)
        rows = df.loc[df["item"].astype(object).to_numpy() == outcome, ["response_id", "score"]]
        if rows.empty:
            raise ParameterError(
                f"theme_impact: outcome {outcome!r} is neither a column of responses nor an "
                "item in its 'item' column."
            )
    score = pd.to_numeric(rows["score"], errors="coerce")
    bad = (score.isna() & rows["score"].notna()).to_numpy()
    if bad.any():
        where = np.flatnonzero(bad)[:5].tolist()
        raise InputTableError(
            f"table {table!r}: the scores of {outcome!r} must be numbers; {int(bad.sum())} "
            f"are not, e.g. at row positions {where}.",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": "score", "check": "numeric", "failure_case": None, "index": where}
            ),
        )
    twice = rows["response_id"].duplicated(keep=False).to_numpy()
    if twice.any():
        where = np.flatnonzero(twice)[:5].tolist()
        raise InputTableError(
            f"table {table!r}: a response has {outcome!r} more than once "
            f"({int(twice.sum())} rows, e.g. at row positions {where}; ids not shown).",
            table=table,
            failure_cases=pd.DataFrame(
                {"column": "response_id", "check": "unique", "failure_case": None, "index": where}
            ),
        )
    return pd.Series(score.to_numpy(dtype=float), index=rows["response_id"].astype(object))


def _blank(frame: pd.DataFrame, mask: np.ndarray, keep: Sequence[str]) -> pd.DataFrame:
    """Hide every number of the rows in ``mask`` (as the disclosure layer does)."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if col in keep or col == "suppressed" or pd.api.types.is_bool_dtype(dtype):
            continue
        if not pd.api.types.is_numeric_dtype(dtype):
            continue
        if pd.api.types.is_integer_dtype(dtype):
            out[col] = out[col].astype("Int64")
            out.loc[mask, col] = pd.NA
        else:
            out.loc[mask, col] = np.nan
    out["suppressed"] = out["suppressed"].to_numpy(dtype=bool) | mask
    return out


def theme_impact(
    comments: Any,
    responses: Any,
    *,
    outcome: str = "ltr",
    themes: ThemesResult | Mapping[str, Any] | None = None,
    n_themes: int = 8,
    text: str = "text",
    by: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    method: str = "relative_weights",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: Any = None,
    min_n: int | None = DEFAULT_MIN_N,
) -> ThemeImpactResult:
    """The effect of mentioning a theme on the score the comment came with.

    Comments link to responses by ``response_id``; an answer whose comments mention
    a theme (any of them, when it has several) is "with" the theme. Per group and
    theme: the difference in the mean score, with minus without, and Welch's t
    interval (the difference is an association: the theme and the score may both
    follow from a third cause). The key drivers
    (:func:`hxmetrics.measures.drivers.key_drivers`, ``method``) share the score's
    explained variance among the theme indicators.

    Parameters
    ----------
    comments : DataFrame
        The ``comments`` table with ``response_id`` (and ``comment_id`` when
        ``themes`` is a :class:`ThemesResult`).
    responses : DataFrame
        The long ``responses`` table (``response_id``, ``item``, ``score``: the rows
        of item ``outcome`` are used) or a wide one with an ``outcome`` column.
    outcome : str, default "ltr"
        The score: an item of the long table or a column of the wide one.
    themes : ThemesResult, mapping or None
        Themes already found (:func:`comment_themes` on these comments, without
        ``by``-suppression of their rows), keyword rules (as in
        :func:`comment_themes`), or None: data-driven themes (``n_themes``,
        ``random_state``).
    n_themes : int, default 8
        Data-driven themes when ``themes`` is None.
    text : str, default "text"
        The column of the text.
    by : str or sequence of str, optional
        Group columns of the comments.
    names : sequence of str, optional
        Names of people (e.g. a roster's given and family names), redacted with
        emails, phones and other identifiers before data-driven themes are fitted
        (:func:`comment_themes`), so that no name can shape a theme. Only the names
        given are redacted; identifiers of other kinds always are. Not used with
        ``themes=`` a :class:`ThemesResult` (fitted already: pass ``names`` there).
    method : str, default "relative_weights"
        The key-driver method (``"relative_weights"``, ``"shapley"``,
        ``"dominance"``).
    n_resamples : int, default 1000
        Bootstrap resamples of the key drivers' intervals.
    confidence : float, default 0.95
        Level of the intervals.
    random_state : int or numpy.random.Generator, optional
        Seed of the data-driven themes and of the bootstrap.
    min_n : int or None, default 5
        Smallest number of answers shown on either side of a difference; groups with
        fewer linked answers are left out of the key drivers.

    Returns
    -------
    ThemeImpactResult

    Raises
    ------
    InputTableError
        Missing columns, a text column that is not text, scores that are not
        numbers, an outcome twice for one response.
    ParameterError
        An outcome that is neither a column nor an item.

    Warns
    -----
    HxWarning
        When the key drivers of a group cannot be fitted (two themes mentioned by
        exactly the same answers are collinear; a score that does not vary): the
        warning names the group and the reason, the differences are still given, and
        the reason is kept in ``settings["drivers_notes"]``. Groups left out for
        their size (fewer than ``min_n`` answers, or fewer than the themes + 2) and
        themes that never vary in a group are only noted there.

    References
    ----------
    Welch (1947); Johnson (2000) and the other key-driver methods:
    :mod:`hxmetrics.measures.drivers`.

    Examples
    --------
    >>> import pandas as pd
    >>> comments = pd.DataFrame({"response_id": [f"r{i}" for i in range(12)],
    ...     "text": ["long queue"] * 6 + ["nice staff"] * 6})
    >>> responses = pd.DataFrame({"response_id": [f"r{i}" for i in range(12)],
    ...     "ltr": [2, 3, 4, 3, 2, 4, 9, 8, 10, 9, 9, 8]})
    >>> res = theme_impact(comments, responses, themes={"queue": "queue"}, min_n=5,
    ...                    n_resamples=0)
    >>> float(res.differences["estimate"].iloc[0])
    -5.833333333333333
    """
    confidence, min_n = _check_common(confidence, min_n)
    c = _prepare(comments, text=text, by=by, extra=["response_id"])
    if isinstance(themes, ThemesResult):
        if c.id_name != _ID:
            raise ParameterError(
                "theme_impact: themes= holds comment_themes results, which are matched to "
                "the comments by comment_id; the comments have no comment_id column."
            )
        found = themes.indicators().drop_duplicates(_ID).set_index(_ID)
        theme_names = themes.theme_names
        ids = c.ids[c.keep]
        matched = pd.Index(found.index).get_indexer(ids)
        hits = np.zeros((len(ids), len(theme_names)), dtype=bool)
        ok = matched >= 0
        hits[ok] = found[theme_names].to_numpy(dtype=bool)[matched[ok]]
        themed = ok
    else:
        kept_themes = comment_themes(
            c.frame.loc[c.keep].assign(**{_ID: np.arange(int(c.keep.sum()))}),
            themes=themes,
            n_themes=n_themes,
            text=text,
            sentiment=False,
            names=names,
            random_state=random_state,
            min_n=None,
        )
        theme_names = kept_themes.theme_names
        hits = kept_themes.comments[theme_names].to_numpy(dtype=bool)
        themed = np.ones(len(hits), dtype=bool)
    score = _scores(responses, outcome)
    rid = c.frame["response_id"].astype(object).to_numpy()[c.keep]
    linked_score = score.reindex(pd.Index(rid)).to_numpy(dtype=float)
    # A comment the themes result does not hold (its group was suppressed there) has
    # unknown themes: left out and counted, never read as "no theme".
    linked = ~np.isnan(linked_score) & themed
    size = len(c.keys)
    codes_all = c.codes[c.keep]

    # One unit per response: any of its comments mentioning a theme counts.
    frame = pd.DataFrame(hits[linked], columns=theme_names)
    frame["_rid"] = rid[linked]
    frame["_group"] = codes_all[linked]
    frame["_score"] = linked_score[linked]
    per = frame.groupby("_rid", sort=True).agg(
        {**dict.fromkeys(theme_names, "max"), "_group": "first", "_score": "first"}
    )
    y = per["_score"].to_numpy(dtype=float)
    g = per["_group"].to_numpy(dtype=np.int64)
    n_total = np.bincount(g, minlength=size)
    parts = []
    for theme in theme_names:
        on = per[theme].to_numpy(dtype=bool)
        n1, m1, se1, _, _ = _mean_t(y[on], g[on], size, confidence)
        n0, m0, se0, _, _ = _mean_t(y[~on], g[~on], size, confidence)
        diff = m1 - m0
        se = np.sqrt(se1**2 + se0**2)
        low, high = t_interval(diff, se, welch_df(se1, n1, se0, n0), confidence)
        keys = c.keys.copy()
        keys["theme"] = theme
        part = grouped_result(
            keys,
            measure="theme_impact",
            n=n_total,
            estimate=diff,
            se=se,
            ci_low=low,
            ci_high=high,
            confidence=confidence,
            method="welch_t",
            min_n=min_n,
            extra={"n_with": n1, "n_without": n0, "mean_with": m1, "mean_without": m0},
            meta={"outcome": outcome},
        )
        if min_n is not None:
            sides = c.keys.copy()
            sides["n"] = np.minimum(n1, n0)
            small = suppress(sides, min_n=min_n, by=c.by)["suppressed"].to_numpy(dtype=bool)
            part = _blank(part, small, keep=[*c.by, "theme", "measure"])
        parts.append(part)
    differences = _by_group_then_theme(parts, c.by, theme_names)

    drivers, note = _theme_drivers(
        per,
        theme_names,
        c,
        outcome=outcome,
        method=method,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=random_state,
        min_n=min_n,
    )
    settings = {
        "outcome": outcome,
        "themes": theme_names,
        "method": method,
        "n_linked": len(per),
        "n_comments_linked": int(linked.sum()),
        "n_excluded_empty": int((~c.keep).sum()),
        "n_excluded_unlinked": int((~linked & themed).sum()),
        "n_excluded_not_in_themes": int((~themed).sum()),
        "min_n": min_n,
        "confidence": confidence,
        "drivers_notes": note,
    }
    return ThemeImpactResult(differences, drivers, settings)


def _theme_drivers(
    per: pd.DataFrame,
    names: list[str],
    c: _Comments,
    *,
    outcome: str,
    method: str,
    n_resamples: int,
    confidence: float,
    random_state: Any,
    min_n: int | None,
) -> tuple[pd.DataFrame | None, list[str]]:
    """Key drivers of the score over the theme indicators, one fit per group.

    One fit per group, because a theme may be mentioned in one group and never in
    another (a constant driver cannot enter a fit): each group's drivers are the
    themes that vary in it.
    """
    from hxmetrics.errors import HxError
    from hxmetrics.measures.drivers import key_drivers

    x = per[names].to_numpy(dtype=float)
    y = per["_score"].to_numpy(dtype=float)
    g = per["_group"].to_numpy(dtype=np.int64)
    target = outcome if outcome not in names else "_outcome"
    rng = check_random_state(random_state)
    notes: list[str] = []
    parts: list[pd.DataFrame] = []
    for code in np.unique(g):
        rows = g == code
        label = ", ".join(f"{col}={c.keys[col].iloc[code]}" for col in c.by) or "all"
        if min_n is not None and rows.sum() < min_n:
            notes.append(f"{label}: fewer than min_n answers, no key drivers")
            continue
        xs = x[rows]
        varying = [t for k, t in enumerate(names) if xs[:, k].min() < xs[:, k].max()]
        constant = len(names) - len(varying)
        if constant:
            notes.append(f"{label}: {constant} theme(s) never (or always) mentioned, not drivers")
        if not varying:
            continue
        if rows.sum() < len(varying) + 2:
            # Too few answers for a regression (a size rule, like min_n): a note, no
            # warning; a fit that fails for any other reason warns below.
            notes.append(
                f"{label}: {int(rows.sum())} answers for {len(varying)} themes, fewer than "
                "themes + 2: no key drivers"
            )
            continue
        data = pd.DataFrame(xs[:, [names.index(t) for t in varying]], columns=varying)
        data[target] = y[rows]
        try:
            out = key_drivers(
                data,
                target,
                varying,
                method=method,
                n_resamples=n_resamples,
                confidence=confidence,
                random_state=rng,
                min_n=min_n,
            )
        except HxError as exc:
            note = f"{label}: key drivers not fitted: {exc}"
            notes.append(note)
            warnings.warn(
                f"theme_impact: {note} The differences are still computed; this group's "
                "key drivers are left out (settings['drivers_notes']). Remove the cause "
                "named: merge or drop themes mentioned by the same answers (collinear), "
                "use fewer themes for few answers; a score that does not vary has nothing "
                "to explain.",
                HxWarning,
                stacklevel=3,
            )
            continue
        for j, col in enumerate(c.by):
            out.insert(1 + j, col, c.keys[col].iloc[code])
        parts.append(out)
    if not parts:
        return None, notes
    result = pd.concat(parts, ignore_index=True)
    result.attrs = {"hxmetrics": {**parts[0].attrs.get("hxmetrics", {}), "by": c.by}}
    return result, notes


# --------------------------------------------------------------------------- verbatims


def verbatims(
    comments: Any,
    *,
    themes: ThemesResult | Mapping[str, Any] | None = None,
    theme: str | Sequence[str] | None = None,
    n: int = 3,
    text: str = "text",
    by: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    random_state: Any = None,
    min_n: int = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """A few comments per theme (and group), redacted, never from a small group.

    Parameters
    ----------
    comments : DataFrame
        The ``comments`` table (``comment_id`` needed when ``themes`` is a
        :class:`ThemesResult`).
    themes : ThemesResult, mapping or None
        The themes: results of :func:`comment_themes` on these comments, keyword
        rules, or None (one pseudo-theme ``"all"``: any comment).
    theme : str or sequence of str, optional
        The theme(s) to quote; None: every theme.
    n : int, default 3
        Comments per (group, theme), drawn at random (``random_state``).
    text : str, default "text"
        The column of the text.
    by : str or sequence of str, optional
        Group columns.
    names : sequence of str, optional
        Names of people to redact besides emails, phones, URLs, ids and long numbers
        (:func:`hxmetrics.privacy.redact_identifiers`).
    random_state : int or numpy.random.Generator, optional
        Seed of the draw.
    min_n : int, default 5
        Smallest group (non-empty comments) quoted; groups below it, and their
        complements, are never quoted. Must be a whole number (no None: verbatims are
        always protected).

    Returns
    -------
    pandas.DataFrame
        ``theme``, the group columns, ``text`` (redacted); ``attrs["hxmetrics"]``
        has ``n_groups_suppressed``. No ids.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["Queue too long, call me on 555-1234"] * 5})
    >>> verbatims(df, themes={"queue": "queue"}, n=1, random_state=0)["text"].tolist()
    ['Queue too long, call me on [PHONE]']
    """
    if min_n is None:
        raise ParameterError(
            "verbatims: min_n cannot be None: comments of small groups are never quoted "
            f"(use a whole number, e.g. {DEFAULT_MIN_N})."
        )
    min_n_checked = check_min_n(min_n)
    n = _check_count(n, "n")
    c = _prepare(comments, text=text, by=by)
    kept_text = c.text[c.keep]
    if isinstance(themes, ThemesResult):
        if c.id_name != _ID:
            raise ParameterError(
                "verbatims: themes= holds comment_themes results, matched to the comments "
                "by comment_id; the comments have no comment_id column."
            )
        found = themes.indicators().drop_duplicates(_ID).set_index(_ID)
        theme_names = themes.theme_names
        matched = pd.Index(found.index).get_indexer(c.ids[c.keep])
        hits = np.zeros((len(kept_text), len(theme_names)), dtype=bool)
        hits[matched >= 0] = found[theme_names].to_numpy(dtype=bool)[matched[matched >= 0]]
    elif themes is not None:
        rules = _rules(themes)
        hits, _ = _match_rules(kept_text.to_numpy(dtype=object), rules)
        theme_names = list(rules)
    else:
        hits = np.ones((len(kept_text), 1), dtype=bool)
        theme_names = ["all"]
    wanted = theme_names if theme is None else ([theme] if isinstance(theme, str) else list(theme))
    unknown = [t for t in wanted if t not in theme_names]
    if unknown:
        raise ParameterError(f"verbatims: unknown theme(s) {unknown}; have {theme_names}.")
    hidden = _hidden_groups(c, min_n_checked)
    codes = c.codes[c.keep]
    shown = ~hidden[codes]
    rng = check_random_state(random_state)
    order = rng.permutation(len(kept_text))
    rows = []
    for t in wanted:
        k = theme_names.index(t)
        pick = order[(hits[order, k]) & shown[order]]
        frame = pd.DataFrame({"_code": codes[pick], "_pos": pick})
        first = frame.groupby("_code", sort=True).head(n).sort_values("_code", kind="stable")
        chosen = first["_pos"].to_numpy()
        part = pd.DataFrame({"theme": t}, index=range(len(chosen)))
        for col in c.by:
            part[col] = c.frame[col].to_numpy()[c.keep][chosen]
        part["text"] = kept_text.to_numpy(dtype=object)[chosen]
        rows.append(part)
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["theme", "text"])
    out["text"] = _redact(out["text"].astype(object), names=names)
    out.attrs["hxmetrics"] = {
        "measure": "verbatims",
        "by": c.by,
        "min_n": min_n_checked,
        "n_groups_suppressed": int(hidden.sum()),
        "redacted": True,
    }
    return out
