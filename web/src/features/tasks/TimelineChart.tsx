/**
 * A small chart of a task's receipts over time, drawn as plain SVG (no chart library: one chart does
 * not justify one): per interval, a bar per receipt kind in each time bucket; cumulative, a line per
 * receipt kind through the running totals at each bucket's end. While the statistics window is open
 * the axis runs on past "now", so that a young task's first minutes do not fill the whole width;
 * hovering a bucket shows its counts.
 */
import dayjs from 'dayjs';
import { useLayoutEffect, useRef, useState } from 'react';
import type { TimelineBucket } from '../../api/types.ts';
import { formatCompactDateTime, formatCount } from '../../i18n/format.ts';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';

/** The receipt kinds a timeline counts. */
export type TimelineKind = 'deliveries' | 'impressions' | 'opens' | 'dismissals';

/** One drawn series: a receipt kind, its name and its colour. */
export interface TimelineSeries {
  kind: TimelineKind;
  label: string;
  color: string;
}

/** Fewest bucket slots the axis shows, so that a task minutes old is not drawn as one wide bar. */
const MIN_SLOTS = 12;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 12, bottom: 26, left: 44 };
/** Least room between two time labels, in px. */
const LABEL_GAP_PX = 64;
/** Steps between time labels, in minutes: round numbers of minutes, hours and days. */
const LABEL_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** A round step for about five grid lines up to `max`, and the axis top it gives. */
function niceScale(max: number): { step: number; top: number } {
  if (max <= 0) return { step: 1, top: 4 };
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const rounded = Math.max(1, step);
  return { step: rounded, top: Math.ceil(max / rounded) * rounded };
}

/** An offset since the start as the axis says it: "0", "45 min", "6 h", "1 h 30 min". */
function offsetLabel(minutes: number, t: Translate): string {
  if (minutes === 0) return '0';
  if (minutes < 60) return t('unit.minutes', { n: minutes });
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0
    ? t('unit.hours', { n: hours })
    : `${t('unit.hours', { n: hours })} ${t('unit.minutes', { n: rest })}`;
}

/** The width of the element `ref` points at, following resizes. */
function useWidth<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    setWidth(element.clientWidth);
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

/** The bar chart of `buckets` (consecutive, `bucketMinutes` each, from the task's start). */
export function TimelineChart({
  buckets,
  bucketMinutes,
  series,
  cumulative,
  windowOpen,
}: {
  buckets: TimelineBucket[];
  bucketMinutes: number;
  series: TimelineSeries[];
  cumulative: boolean;
  /** Whether the statistics window is still open: the axis then runs on past "now". */
  windowOpen: boolean;
}) {
  const { t } = useI18n();
  const [ref, width] = useWidth<HTMLDivElement>();
  const [hovered, setHovered] = useState<number | null>(null);

  // Running totals per kind, for the cumulative view and the hover's "so far".
  const totals: Record<TimelineKind, number>[] = [];
  buckets.reduce<Record<TimelineKind, number>>(
    (sum, b) => {
      const next = {
        deliveries: sum.deliveries + b.deliveries,
        impressions: sum.impressions + b.impressions,
        opens: sum.opens + b.opens,
        dismissals: sum.dismissals + b.dismissals,
      };
      totals.push(next);
      return next;
    },
    { deliveries: 0, impressions: 0, opens: 0, dismissals: 0 },
  );
  const barValue = (i: number, kind: TimelineKind) => (cumulative ? totals[i]![kind] : buckets[i]![kind]);

  const slots = windowOpen ? Math.max(buckets.length, MIN_SLOTS) : Math.max(buckets.length, 1);
  const plotWidth = Math.max(0, width - MARGIN.left - MARGIN.right);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slotWidth = plotWidth / slots;
  const max = Math.max(0, ...buckets.flatMap((_, i) => series.map((s) => barValue(i, s.kind))));
  const { step, top } = niceScale(max);
  const y = (value: number) => MARGIN.top + plotHeight - (value / top) * plotHeight;
  const bucketMs = bucketMinutes * 60_000;
  const start = buckets.length > 0 ? Date.parse(buckets[0]!.at) : Date.now();
  const nowSlots = (Date.now() - start) / bucketMs;
  const labelStep =
    LABEL_STEPS.find((m) => m % bucketMinutes === 0 && (m / bucketMinutes) * slotWidth >= LABEL_GAP_PX) ??
    Math.ceil(LABEL_GAP_PX / Math.max(slotWidth, 1)) * bucketMinutes;
  const labelEvery = labelStep / bucketMinutes;
  const gridLines = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);

  const onMove = (event: React.MouseEvent<SVGSVGElement>) => {
    const x = event.clientX - event.currentTarget.getBoundingClientRect().left - MARGIN.left;
    const index = Math.floor(x / slotWidth);
    setHovered(index >= 0 && index < buckets.length ? index : null);
  };

  const hoverBucket = hovered === null ? undefined : buckets[hovered];
  const hoverX = hovered === null ? 0 : MARGIN.left + (hovered + 0.5) * slotWidth;

  return (
    <div ref={ref} style={{ position: 'relative', width: '100%' }} data-testid="timeline-chart">
      {width > 0 && (
        <svg
          width={width}
          height={HEIGHT}
          role="img"
          aria-label={t('timeline.chartLabel')}
          onMouseMove={onMove}
          onMouseLeave={() => setHovered(null)}
          style={{ display: 'block' }}
        >
          {windowOpen && nowSlots < slots && (
            <g>
              <rect
                x={MARGIN.left + nowSlots * slotWidth}
                y={MARGIN.top}
                width={Math.max(0, (slots - nowSlots) * slotWidth)}
                height={plotHeight}
                fill="#fafafa"
              />
              <line
                x1={MARGIN.left + nowSlots * slotWidth}
                x2={MARGIN.left + nowSlots * slotWidth}
                y1={MARGIN.top}
                y2={MARGIN.top + plotHeight}
                stroke="#bfbfbf"
                strokeDasharray="3 3"
              />
              <text
                // Left of the line when "now" is at the right end of the axis, so that it is not cut off.
                x={MARGIN.left + nowSlots * slotWidth + (nowSlots > slots - 1 ? -4 : 4)}
                textAnchor={nowSlots > slots - 1 ? 'end' : 'start'}
                y={MARGIN.top + 10}
                fontSize={11}
                fill="#8c8c8c"
                // A white halo keeps the word readable where it crosses a bar.
                stroke="#fff"
                strokeWidth={3}
                paintOrder="stroke"
              >
                {t('timeline.now')}
              </text>
            </g>
          )}
          {gridLines.map((value) => (
            <g key={value}>
              <line
                x1={MARGIN.left}
                x2={MARGIN.left + plotWidth}
                y1={y(value)}
                y2={y(value)}
                stroke={value === 0 ? '#d9d9d9' : '#f0f0f0'}
              />
              <text x={MARGIN.left - 6} y={y(value) + 4} fontSize={11} fill="#8c8c8c" textAnchor="end">
                {compact.format(value)}
              </text>
            </g>
          ))}
          {hovered !== null && (
            <rect
              x={MARGIN.left + hovered * slotWidth}
              y={MARGIN.top}
              width={slotWidth}
              height={plotHeight}
              fill="rgba(0, 0, 0, 0.04)"
            />
          )}
          {cumulative
            ? // Running totals as lines: from 0 at the start through each bucket's end.
              series.map((s) => (
                <polyline
                  key={s.kind}
                  points={[
                    `${MARGIN.left},${y(0)}`,
                    ...buckets.map((_, i) => `${MARGIN.left + (i + 1) * slotWidth},${y(totals[i]![s.kind])}`),
                  ].join(' ')}
                  fill="none"
                  stroke={s.color}
                  strokeWidth={2}
                  strokeLinejoin="round"
                  data-kind={s.kind}
                />
              ))
            : buckets.map((bucket, i) => {
                const groupWidth = slotWidth * (slotWidth > 6 ? 0.8 : 1);
                const barWidth = groupWidth / Math.max(series.length, 1);
                const x0 = MARGIN.left + i * slotWidth + (slotWidth - groupWidth) / 2;
                return (
                  <g key={bucket.at}>
                    {series.map((s, j) => {
                      const value = bucket[s.kind];
                      if (value === 0) return null;
                      // At least a pixel high, so that a single receipt among thousands still shows.
                      const height = Math.max(1, (value / top) * plotHeight);
                      return (
                        <rect
                          key={s.kind}
                          x={x0 + j * barWidth}
                          y={MARGIN.top + plotHeight - height}
                          width={Math.max(1, barWidth - (barWidth > 3 ? 1 : 0))}
                          height={height}
                          fill={s.color}
                          data-kind={s.kind}
                        />
                      );
                    })}
                  </g>
                );
              })}
          {Array.from({ length: Math.floor((slots - 1) / labelEvery) + 1 }, (_, k) => k * labelEvery).map(
            (slot) => (
              <text
                key={slot}
                x={MARGIN.left + slot * slotWidth}
                y={HEIGHT - 8}
                fontSize={11}
                fill="#8c8c8c"
                textAnchor={slot === 0 ? 'start' : slot * slotWidth > plotWidth - 24 ? 'end' : 'middle'}
              >
                {offsetLabel(slot * bucketMinutes, t)}
              </text>
            ),
          )}
        </svg>
      )}
      {hoverBucket && hovered !== null && (
        <div
          style={{
            position: 'absolute',
            top: MARGIN.top,
            ...(hoverX > width / 2 ? { right: width - hoverX + 12 } : { left: hoverX + 12 }),
            background: '#fff',
            border: '1px solid #f0f0f0',
            boxShadow: '0 3px 6px -4px rgba(0,0,0,.12), 0 6px 16px 0 rgba(0,0,0,.08)',
            borderRadius: 6,
            padding: '6px 10px',
            fontSize: 12,
            pointerEvents: 'none',
            whiteSpace: 'nowrap',
          }}
          data-testid="timeline-hover"
        >
          <div style={{ fontWeight: 500, marginBottom: 4 }}>
            {formatCompactDateTime(hoverBucket.at)} –{' '}
            {dayjs(Date.parse(hoverBucket.at) + bucketMs).format('HH:mm')}
          </div>
          {series.map((s) => (
            <div key={s.kind} style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
              <span style={{ width: 8, height: 8, borderRadius: 2, background: s.color }} />
              <span style={{ flex: 1 }}>{s.label}</span>
              <strong>{formatCount(hoverBucket[s.kind])}</strong>
              <span style={{ color: '#8c8c8c' }}>
                {t('timeline.total', { n: formatCount(totals[hovered]![s.kind]) })}
              </span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
