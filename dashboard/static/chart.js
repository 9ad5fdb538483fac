// The chart of a user's unique messages per day and event type, drawn as inline SVG: grouped
// bars for up to BAR_DAYS days, one line per event type above that. Colours come from
// styles.css (.series-<event>), and a legend plus a data table give the same numbers as text.

import { el, svg } from "./dom.js";
import { fill, formatCount, formatShortDay, plural } from "./format.js";
import { LIFECYCLE } from "./common.js";
import { S } from "./strings.js";

const MAX_WIDTH = 960;
const MIN_WIDTH = 320;
const HEIGHT = 300;
const MARGIN = { top: 16, right: 16, bottom: 56, left: 56 };
const BAR_DAYS = 14;
const MAX_FILLED_DAYS = 400;
const LABEL_SPACING = 64;
const DAY_MS = 86_400_000;

/** Add the missing days between the first and last day as zeros, so gaps show as gaps. */
function withEmptyDays(days) {
  if (days.length < 2) return days;
  const first = Date.parse(`${days[0].day}T00:00:00Z`);
  const last = Date.parse(`${days[days.length - 1].day}T00:00:00Z`);
  const span = Math.round((last - first) / DAY_MS) + 1;
  // NOTE: a longer history is drawn with only its active days, evenly spaced.
  if (span > MAX_FILLED_DAYS) return days;
  const byDay = new Map(days.map((day) => [day.day, day]));
  const filled = [];
  for (let i = 0; i < span; i += 1) {
    const day = new Date(first + i * DAY_MS).toISOString().slice(0, 10);
    filled.push(byDay.get(day) ?? { day, sent: 0, delivered: 0, viewed: 0, clicked: 0, failed: 0 });
  }
  return filled;
}

/** Return a tick step of 1, 2 or 5 times a power of ten that gives about four ticks. */
function tickStep(max) {
  const rough = Math.max(max / 4, 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * power >= rough) return factor * power;
  }
  return 10 * power;
}

function yAxis(top, plotHeight, plotWidth, scaleMax, step) {
  const group = svg("g", { class: "axis axis-y" });
  for (let value = 0; value <= scaleMax; value += step) {
    const y = top + plotHeight - (value / scaleMax) * plotHeight;
    group.append(
      svg("line", { class: "grid-line", x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y, y2: y }),
      svg("text", { class: "tick-label", x: MARGIN.left - 8, y: y + 4, "text-anchor": "end", text: formatCount(value) }),
    );
  }
  const middle = top + plotHeight / 2;
  group.append(
    svg("text", {
      class: "axis-title",
      x: 16,
      y: middle,
      "text-anchor": "middle",
      transform: `rotate(-90 16 ${middle})`,
      text: S.chartAxisY,
    }),
  );
  return group;
}

function xAxis(days, xCenter, baseline, plotWidth) {
  const group = svg("g", { class: "axis axis-x" });
  group.append(svg("line", { class: "axis-line", x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: baseline, y2: baseline }));
  const every = Math.ceil(days.length / Math.max(1, Math.floor(plotWidth / LABEL_SPACING)));
  days.forEach((day, i) => {
    if (i % every !== 0) return;
    group.append(
      svg("text", { class: "tick-label", x: xCenter(i), y: baseline + 18, "text-anchor": "middle", text: formatShortDay(day.day) }),
    );
  });
  group.append(
    svg("text", {
      class: "axis-title",
      x: MARGIN.left + plotWidth / 2,
      y: HEIGHT - 10,
      "text-anchor": "middle",
      text: S.chartAxisX,
    }),
  );
  return group;
}

function pointTitle(day, event) {
  return fill(S.chartPointTitle, { day: day.day, count: formatCount(day[event]), event: S.event[event] });
}

function bars(days, slot, yOf, baseline) {
  const group = svg("g", { class: "series" });
  const barWidth = (slot * 0.8) / LIFECYCLE.length;
  days.forEach((day, i) => {
    const start = MARGIN.left + i * slot + slot * 0.1;
    LIFECYCLE.forEach((event, j) => {
      const y = yOf(day[event]);
      group.append(
        svg("rect", {
          class: `bar series-${event}`,
          x: start + j * barWidth,
          y,
          width: Math.max(barWidth - 1, 1),
          height: Math.max(baseline - y, 0),
        }, svg("title", { text: pointTitle(day, event) })),
      );
    });
  });
  return group;
}

function lines(days, xCenter, yOf) {
  const group = svg("g", { class: "series" });
  for (const event of LIFECYCLE) {
    const points = days.map((day, i) => `${xCenter(i).toFixed(1)},${yOf(day[event]).toFixed(1)}`);
    group.append(svg("polyline", { class: `line series-${event}`, points: points.join(" ") }));
    if (days.length <= 60) {
      days.forEach((day, i) => {
        group.append(
          svg("circle", { class: `point series-${event}`, cx: xCenter(i), cy: yOf(day[event]), r: 3 },
            svg("title", { text: pointTitle(day, event) })),
        );
      });
    }
  }
  return group;
}

function legend() {
  return el("ul", { class: "legend", "aria-label": S.chartLegend },
    LIFECYCLE.map((event) =>
      el("li", {},
        el("span", { class: `legend-swatch series-${event}`, "aria-hidden": "true" }),
        S.event[event],
      ),
    ),
  );
}

function dataTable(days) {
  return el("details", { class: "chart-data" },
    el("summary", { text: S.chartShowTable }),
    el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": S.chartTableCaption },
      el("table", { class: "data-table" },
        el("caption", { class: "visually-hidden", text: S.chartTableCaption }),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col", text: S.chartDayColumn }),
          LIFECYCLE.map((event) => el("th", { scope: "col", text: S.event[event] })),
        )),
        el("tbody", {}, days.map((day) =>
          el("tr", {},
            el("th", { scope: "row", text: day.day }),
            LIFECYCLE.map((event) => el("td", { class: "number", text: formatCount(day[event]) })),
          ),
        )),
      ),
    ),
  );
}

function summary(days) {
  const totals = Object.fromEntries(LIFECYCLE.map((event) => [event, days.reduce((sum, day) => sum + day[event], 0)]));
  return fill(S.chartDescription, {
    first: days[0].day,
    last: days[days.length - 1].day,
    days: plural(S.dayCount, days.length),
    sent: formatCount(totals.sent),
    delivered: formatCount(totals.delivered),
    viewed: formatCount(totals.viewed),
    clicked: formatCount(totals.clicked),
    failed: formatCount(totals.failed),
  });
}

/**
 * Build the activity chart for the API's `days` (oldest first) as a <figure>. `width` is the
 * space available in CSS pixels, so that labels keep their size on a phone.
 */
export function activityChart(apiDays, width) {
  if (apiDays.length === 0) return el("p", { class: "muted", text: S.chartEmpty });

  const days = withEmptyDays(apiDays);
  const chartWidth = Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, width || MAX_WIDTH)));
  const plotWidth = chartWidth - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const baseline = MARGIN.top + plotHeight;
  const max = Math.max(1, ...days.flatMap((day) => LIFECYCLE.map((event) => day[event])));
  const step = tickStep(max);
  const scaleMax = Math.ceil(max / step) * step;
  const yOf = (value) => baseline - (value / scaleMax) * plotHeight;
  const slot = plotWidth / days.length;
  const asBars = days.length <= BAR_DAYS;
  const xCenter = asBars
    ? (i) => MARGIN.left + (i + 0.5) * slot
    : (i) => MARGIN.left + (days.length === 1 ? plotWidth / 2 : (i / (days.length - 1)) * plotWidth);

  const description = summary(apiDays);
  const chart = svg("svg", {
    class: "chart",
    viewBox: `0 0 ${chartWidth} ${HEIGHT}`,
    role: "img",
    "aria-labelledby": "activity-chart-title activity-chart-desc",
  },
    svg("title", { id: "activity-chart-title", text: S.chartTitle }),
    svg("desc", { id: "activity-chart-desc", text: description }),
    yAxis(MARGIN.top, plotHeight, plotWidth, scaleMax, step),
    xAxis(days, xCenter, baseline, plotWidth),
    asBars ? bars(days, slot, yOf, baseline) : lines(days, xCenter, yOf),
  );

  return el("figure", { class: "chart-figure" },
    chart,
    el("figcaption", {}, legend(), el("p", { class: "help", text: description })),
    dataTable(apiDays),
  );
}
