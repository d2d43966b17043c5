// Which candle each fill belongs to. Candles and fills both carry exchange timestamps; a fill is
// marked on the candle whose period holds it (open_time <= time < open_time + interval), and a
// fill outside every loaded candle is left unmarked rather than drawn on a neighbour.
export function intervalSeconds(interval) {
  const match = /^(\d+)([mhdwM])$/.exec(interval || "1m");
  const unit = { m: 60, h: 3600, d: 86400, w: 604800, M: 2592000 }[match ? match[2] : "m"];
  return (match ? Number(match[1]) : 1) * unit;
}

export function epochSeconds(iso) {
  return Math.floor(Date.parse(iso) / 1000);
}

// candleTimes: open times in seconds, ascending. Returns [{ time, fill }] sorted by time.
export function placeFills(candleTimes, fills, span) {
  const placed = [];
  for (const fill of fills) {
    const at = epochSeconds(fill.time);
    let low = 0;
    let high = candleTimes.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (candleTimes[middle] <= at) { found = middle; low = middle + 1; } else { high = middle - 1; }
    }
    if (found >= 0 && at < candleTimes[found] + span) placed.push({ time: candleTimes[found], at, fill });
  }
  return placed.sort((a, b) => a.at - b.at);
}
