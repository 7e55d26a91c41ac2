"""Correlation inputs (query parameters) and the JSON shapes of its answers."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portal.correlation.analysis import Analysis, Pair
from portal.market.schemas import MAX_SYMBOL_LENGTH, SYMBOL

MAX_SYMBOLS = 50
LOOKBACK_CHOICES = (60, 126, 252, 504, 750)


class MatrixQuery(BaseModel):
    """`symbols` None means "the tenant's holdings"."""

    model_config = ConfigDict(extra="ignore")

    symbols: list[str] | None = None
    lookback_days: int = Field(default=252, ge=30, le=1260)
    method: Literal["pearson", "spearman", "kendall"] = "pearson"

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, raw):
        if raw is None or isinstance(raw, list):
            return raw
        symbols: list[str] = []
        for part in str(raw).split(","):
            symbol = part.strip().upper()
            if symbol and symbol not in symbols:
                symbols.append(symbol)
        return symbols

    @field_validator("symbols")
    @classmethod
    def _two_to_fifty(cls, symbols):
        if symbols is None:
            return None
        if len(symbols) < 2:
            raise ValueError("name at least two symbols, separated by commas")
        if len(symbols) > MAX_SYMBOLS:
            raise ValueError(f"name at most {MAX_SYMBOLS} symbols")
        if any(len(symbol) > MAX_SYMBOL_LENGTH for symbol in symbols):
            raise ValueError(f"a symbol has at most {MAX_SYMBOL_LENGTH} characters")
        malformed = [symbol for symbol in symbols if not SYMBOL.match(symbol)]
        if malformed:
            # What no instrument can be called is as unknown as a ticker nobody lists.
            raise ValueError(f"unknown symbol {', '.join(malformed)}")
        return symbols

    @classmethod
    def from_args(cls, args) -> "MatrixQuery":
        # An empty form field means "use the default", as when it is absent.
        return cls.model_validate({key: value for key, value in args.items() if value != ""})


class AnalysisQuery(MatrixQuery):
    threshold: float = Field(default=0.7, gt=-1, le=1, allow_inf_nan=False)


class MatrixOut(BaseModel):
    symbols: list[str]
    matrix: list[list[float]]
    method: str
    lookback_days: int
    as_of: date

    @classmethod
    def of(cls, result) -> "MatrixOut":
        return cls(symbols=result.symbols, matrix=result.matrix.tolist(), method=result.method,
                   lookback_days=result.lookback_days, as_of=result.as_of)


class PairOut(BaseModel):
    symbols: tuple[str, str]
    correlation: float

    @classmethod
    def of(cls, pair: Pair) -> "PairOut":
        return cls(symbols=(pair.first, pair.second), correlation=pair.correlation)


class AnalysisOut(BaseModel):
    symbols: list[str]
    method: str
    lookback_days: int
    as_of: date
    threshold: float
    average_correlation: float
    most_correlated: PairOut
    least_correlated: PairOut
    pairs_above_threshold: list[PairOut]
    diversification_ratio: float
    effective_number_of_assets: float
    clusters: list[list[str]]
    weighting: Literal["market_value", "equal"]
    weights: dict[str, float]

    @classmethod
    def of(cls, result) -> "AnalysisOut":
        analysis: Analysis = result.analysis
        return cls(
            symbols=result.symbols,
            method=result.method,
            lookback_days=result.lookback_days,
            as_of=result.as_of,
            threshold=result.threshold,
            average_correlation=analysis.average_correlation,
            most_correlated=PairOut.of(analysis.most_correlated),
            least_correlated=PairOut.of(analysis.least_correlated),
            pairs_above_threshold=[PairOut.of(p) for p in analysis.pairs_above_threshold],
            diversification_ratio=analysis.diversification_ratio,
            effective_number_of_assets=analysis.effective_number_of_assets,
            clusters=analysis.clusters,
            weighting=result.weighting,
            weights=dict(zip(result.symbols, result.weights, strict=True)),
        )
