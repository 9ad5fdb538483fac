// Formatting of numbers, rates, times and durations, and filling of string templates.
// Times are shown in UTC, the zone of the API's days, so a time and its chart day agree.

import { S } from "./strings.js";

const numberFormat = new Intl.NumberFormat(S.locale);
const percentFormat = new Intl.NumberFormat(S.locale, {
  style: "percent",
  maximumFractionDigits: 1,
});
const pluralRules = new Intl.PluralRules(S.locale);

/** Replace each {name} in `template` with values[name]. */
export function fill(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/** Pick the plural form of `forms` ({one, other, ...}) for `count` and fill {count}. */
export function plural(forms, count, values = {}) {
  const form = forms[pluralRules.select(count)] ?? forms.other;
  return fill(form, { ...values, count: formatCount(count) });
}

export function formatCount(value) {
  return numberFormat.format(value);
}

const wholePercentFormat = new Intl.NumberFormat(S.locale, { style: "percent", maximumFractionDigits: 0 });

/** Format a fraction such as 0.42 as a whole percentage, "42%". */
export function formatPercent(fraction) {
  return wholePercentFormat.format(fraction);
}

/** Format a rate such as 0.6667 as "66.7%", and null (denominator 0) as S.rateEmpty. */
export function formatRate(value) {
  return value === null || value === undefined ? S.rateEmpty : percentFormat.format(value);
}

/** Format seconds as "45 s", "5 min", "5 min 3 s", "2 h 5 min" or "3 d 4 h". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return S.durationEmpty;
  const total = Math.round(seconds);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (days > 0) return fill(S.durationDaysHours, { days, hours });
  if (hours > 0) return fill(S.durationHoursMinutes, { hours, minutes });
  if (minutes > 0 && secs === 0) return fill(S.durationMinutes, { minutes });
  if (minutes > 0) return fill(S.durationMinutesSeconds, { minutes, seconds: secs });
  return fill(S.durationSeconds, { seconds: secs });
}

function pad(value, width = 2) {
  return String(value).padStart(width, "0");
}

// NOTE: some API responses (last_event_at of search results) contain a UTC time without an
// offset, which Date would read as local time, so a time without an offset is read as UTC.
function parseTime(iso) {
  const hasOffset = /(Z|[+-]\d\d:?\d\d)$/i.test(iso);
  return new Date(hasOffset ? iso : `${iso}Z`);
}

/** Format an RFC 3339 time from the API as "2026-03-01 10:00:00.150 UTC". */
export function formatTime(iso) {
  if (!iso) return S.timeEmpty;
  const at = parseTime(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const date = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`;
  let time = `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`;
  if (at.getUTCMilliseconds() !== 0) time += `.${pad(at.getUTCMilliseconds(), 3)}`;
  return fill(S.timeUtc, { date, time });
}

/** Format a time in the browser's own zone, for a tooltip beside the UTC time. */
export function formatLocalTime(iso) {
  const at = parseTime(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return at.toLocaleString(S.locale, { dateStyle: "medium", timeStyle: "medium" });
}

/** Format an API day ("2026-03-01") for a chart axis as "Mar 1". */
export function formatShortDay(day) {
  const at = new Date(`${day}T00:00:00Z`);
  return at.toLocaleDateString(S.locale, { month: "short", day: "numeric", timeZone: "UTC" });
}
