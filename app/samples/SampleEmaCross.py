# The sample strategy `make run` registers: an EMA crossover with a trend filter.
# It is user code: the service stores it as text and runs it only inside worker processes.
# Its parameters may be set per backtest (`parameters` of POST /backtests); the defaults are
# the constants it had before it had parameters, so a run without them gives the same result.
from freqtrade.strategy import BooleanParameter, DecimalParameter, IntParameter, IStrategy
from pandas import DataFrame


class SampleEmaCross(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.04, "120": 0.02, "360": 0.0}
    stoploss = -0.03
    startup_candle_count = 200

    fast_span = IntParameter(5, 30, default=12, space="buy")
    slow_span = IntParameter(20, 100, default=48, space="buy")
    # Enter only when the close is this fraction above the trend EMA (0: just above it).
    trend_margin = DecimalParameter(0.0, 0.05, decimals=3, default=0.0, space="buy")
    use_trend_filter = BooleanParameter(default=True, space="buy")

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        close = dataframe["close"]
        dataframe["ema_fast"] = close.ewm(span=self.fast_span.value, adjust=False).mean()
        dataframe["ema_slow"] = close.ewm(span=self.slow_span.value, adjust=False).mean()
        dataframe["ema_trend"] = close.ewm(span=200, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        crossed_up = (dataframe["ema_fast"] > dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) <= dataframe["ema_slow"].shift(1)
        )
        if self.use_trend_filter.value:
            floor = dataframe["ema_trend"] * (1 + self.trend_margin.value)
            crossed_up &= dataframe["close"] > floor
        dataframe.loc[crossed_up, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        crossed_down = (dataframe["ema_fast"] < dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) >= dataframe["ema_slow"].shift(1)
        )
        dataframe.loc[crossed_down, "exit_long"] = 1
        return dataframe
