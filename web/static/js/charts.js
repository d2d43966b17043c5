// Candles with the bot's fills marked, and the equity curve (lightweight-charts, if installed).
const LC = () => window.LightweightCharts;

function seconds(iso) {
  return Math.floor(Date.parse(iso) / 1000);
}

const THEME = {
  layout: { background: { color: "#ffffff" }, textColor: "#44505c", fontSize: 12 },
  grid: { vertLines: { color: "#eef1f4" }, horzLines: { color: "#eef1f4" } },
  rightPriceScale: { borderColor: "#dde2e7" },
  timeScale: { borderColor: "#dde2e7", timeVisible: true, secondsVisible: false },
  autoSize: true,
};

export function chartsAvailable() {
  return Boolean(LC() && LC().createChart);
}

export class PriceChart {
  constructor(container) {
    const lib = LC();
    this.chart = lib.createChart(container, THEME);
    this.series = this.chart.addSeries(lib.CandlestickSeries, {
      upColor: "#2e9d6f", downColor: "#d0564b", borderVisible: false,
      wickUpColor: "#2e9d6f", wickDownColor: "#d0564b",
    });
    this.markers = lib.createSeriesMarkers(this.series, []);
    this.fitted = false;
  }

  update(candles, fills, interval) {
    const data = candles.map((c) => ({
      time: seconds(c.open_time),
      open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close),
    }));
    this.series.setData(data);
    if (data.length === 0) return;
    const span = intervalSeconds(interval);
    const first = data[0].time;
    // A fill is marked on the candle it happened in; fills before the first candle are skipped.
    const markers = fills
      .map((f) => ({ t: seconds(f.time), f }))
      .filter(({ t }) => t >= first)
      .sort((a, b) => a.t - b.t)
      .map(({ t, f }) => ({
        time: first + Math.floor((t - first) / span) * span,
        position: f.side === "BUY" ? "belowBar" : "aboveBar",
        color: f.side === "BUY" ? "#2e7fd0" : "#b5651d",
        shape: f.side === "BUY" ? "arrowUp" : "arrowDown",
        text: `${f.side} ${f.quantity}`,
      }));
    this.markers.setMarkers(markers);
    if (!this.fitted) { this.chart.timeScale().fitContent(); this.fitted = true; }
  }
}

export class EquityChart {
  constructor(container) {
    const lib = LC();
    this.chart = lib.createChart(container, THEME);
    this.series = this.chart.addSeries(lib.BaselineSeries, {
      lineWidth: 2,
      topLineColor: "#2e9d6f", bottomLineColor: "#d0564b",
      topFillColor1: "rgba(46,157,111,0.18)", topFillColor2: "rgba(46,157,111,0.02)",
      bottomFillColor1: "rgba(208,86,75,0.02)", bottomFillColor2: "rgba(208,86,75,0.18)",
    });
  }

  update(points, current, asOf) {
    const byTime = new Map();
    for (const p of points) byTime.set(seconds(p.time), Number(p.equity));
    if (current !== null && current !== undefined) byTime.set(seconds(asOf), Number(current));
    const data = [...byTime.entries()].sort((a, b) => a[0] - b[0])
      .map(([time, value]) => ({ time, value }));
    if (data.length) this.series.applyOptions({ baseValue: { type: "price", price: data[0].value } });
    this.series.setData(data);
    this.chart.timeScale().fitContent();
  }
}

function intervalSeconds(interval) {
  const match = /^(\d+)([mhdwM])$/.exec(interval || "1m");
  const unit = { m: 60, h: 3600, d: 86400, w: 604800, M: 2592000 }[match ? match[2] : "m"];
  return (match ? Number(match[1]) : 1) * unit;
}
