// Candles with the bot's fills marked, and the equity curve (lightweight-charts, if installed).
// The library shows timestamps as UTC; the crosshair says so, and colours follow the theme.
import { clock, el, quantity, price } from "./format.js";
import { epochSeconds, intervalSeconds, placeFills } from "./markers.js";
import { themeColor } from "./theme.js";

const LC = () => window.LightweightCharts;

export function chartsAvailable() {
  return Boolean(LC() && LC().createChart);
}

function palette() {
  return {
    text: themeColor("--muted"), grid: themeColor("--line-soft"), border: themeColor("--line"),
    card: themeColor("--card"), good: themeColor("--good"), bad: themeColor("--bad"),
    accent: themeColor("--accent"), warn: themeColor("--warn"),
  };
}

function chartOptions(colors) {
  return {
    layout: {
      background: { color: colors.card }, textColor: colors.text, fontSize: 12,
      // The TradingView attribution is a link under the charts: the logo would need an inline style.
      attributionLogo: false,
    },
    grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    rightPriceScale: { borderColor: colors.border },
    timeScale: { borderColor: colors.border, timeVisible: true, secondsVisible: false },
    localization: { timeFormatter: (time) => `${clock(new Date(time * 1000).toISOString())} UTC` },
    autoSize: true,
  };
}

class ThemedChart {
  constructor(container) {
    this.chart = LC().createChart(container, chartOptions(palette()));
    document.addEventListener("themechange", () => this.retheme());
  }

  retheme() {
    this.chart.applyOptions(chartOptions(palette()));
    this.recolor(palette());
  }
}

export class PriceChart extends ThemedChart {
  constructor(container, markerList) {
    super(container);
    this.series = this.chart.addSeries(LC().CandlestickSeries, { borderVisible: false });
    this.markers = LC().createSeriesMarkers(this.series, []);
    this.markerList = markerList;
    this.placed = [];
    this.fitted = false;
    this.recolor(palette());
  }

  recolor(colors) {
    this.series.applyOptions({
      upColor: colors.good, downColor: colors.bad, wickUpColor: colors.good, wickDownColor: colors.bad,
    });
    this.drawMarkers(colors);
  }

  update(candles, fills, interval) {
    const data = candles.map((c) => ({
      time: epochSeconds(c.open_time),
      open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close),
    }));
    this.series.setData(data);
    this.placed = placeFills(data.map((d) => d.time), fills, intervalSeconds(interval));
    this.drawMarkers(palette());
    this.describe(fills.length);
    if (data.length && !this.fitted) { this.chart.timeScale().fitContent(); this.fitted = true; }
  }

  drawMarkers(colors) {
    this.markers.setMarkers(this.placed.map(({ time, fill }) => ({
      time,
      position: fill.side === "BUY" ? "belowBar" : "aboveBar",
      color: fill.side === "BUY" ? colors.accent : colors.warn,
      shape: fill.side === "BUY" ? "arrowUp" : "arrowDown",
      text: `${fill.side} ${quantity(fill.quantity)}`,
    })));
  }

  // The same markers in words, for screen readers (and for reading the chart without a canvas).
  describe(total) {
    this.markerList.replaceChildren(...this.placed.map(({ time, fill }) => {
      const item = el("li", `${fill.side} ${quantity(fill.quantity)} at ${price(fill.price)}, `
        + `filled ${clock(fill.time)}, on the candle of ${clock(new Date(time * 1000).toISOString())} UTC`);
      item.dataset.candle = new Date(time * 1000).toISOString();
      item.dataset.fillTime = fill.time;
      return item;
    }));
    this.markerList.dataset.unmarked = String(total - this.placed.length);
  }
}

export class EquityChart extends ThemedChart {
  constructor(container) {
    super(container);
    this.series = this.chart.addSeries(LC().BaselineSeries, { lineWidth: 2 });
    this.recolor(palette());
  }

  recolor(colors) {
    this.series.applyOptions({
      topLineColor: colors.good, bottomLineColor: colors.bad,
      topFillColor1: `${colors.good}2e`, topFillColor2: `${colors.good}05`,
      bottomFillColor1: `${colors.bad}05`, bottomFillColor2: `${colors.bad}2e`,
    });
  }

  update(points, current, asOf) {
    const byTime = new Map();
    for (const p of points) byTime.set(epochSeconds(p.time), Number(p.equity));
    if (current !== null && current !== undefined && asOf) byTime.set(epochSeconds(asOf), Number(current));
    const data = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
    if (data.length) this.series.applyOptions({ baseValue: { type: "price", price: data[0].value } });
    this.series.setData(data);
    this.chart.timeScale().fitContent();
  }
}
