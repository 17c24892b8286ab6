// How numbers are shown. The browser test formats the views' numbers with the same rules and
// compares, so one definition serves both the page and its check (data-value holds the raw one).
export function money(value) {
  if (value === null || value === undefined) return "—";
  return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function count(value) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
}

export function ratio(value) {
  if (value === null || value === undefined) return "—";
  return Number(value).toFixed(2) + "×";
}

export function share(value) {
  if (value === null || value === undefined) return "—";
  return (100 * Number(value)).toFixed(1) + "%";
}
