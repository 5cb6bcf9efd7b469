import { describe, expect, it } from 'vitest';
import { niceTicks, renderSvg, type PlotInput } from './svg.js';

const MiB = 2 ** 20;

const input: PlotInput = {
  title: 'Soak <test> & co',
  subtitle: 'sub',
  durationS: 600,
  judgedFromS: 200,
  panels: [
    {
      title: 'aggregator-1 · leader',
      color: '#d62728',
      lines: [
        { label: 'heap used after GC', points: [{ t: 0, v: 10 * MiB }, { t: 300, v: 12 * MiB }, { t: 600, v: 12 * MiB }], dashed: false },
        { label: 'RSS', points: [{ t: 0, v: 60 * MiB }, { t: 600, v: 70 * MiB }], dashed: true },
      ],
    },
    { title: 'aggregator-2 · standby', color: '#9467bd', lines: [{ label: 'RSS', points: [], dashed: true }] },
    { title: 'redis', color: '#8c564b', lines: [{ label: 'used_memory', points: [{ t: 0, v: 3 * MiB }], dashed: false }] },
  ],
  colors: [{ label: 'aggregator, leader', color: '#d62728' }],
};

describe('renderSvg', () => {
  const svg = renderSvg(input);

  it('is one well-formed svg element with a panel per process, in a grid', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<g>/g)).toHaveLength(3);
    // Two columns, two rows: 86 px of header + 2 × 190.
    expect(svg).toContain('height="466"');
  });

  it('draws the judged figure solid and the other dashed, in the panel colour, skipping empty lines', () => {
    const lines = svg.match(/<polyline[^>]*>/g)!;
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('stroke="#d62728" stroke-width="2"');
    expect(lines[1]).toContain('stroke-dasharray');
  });

  it('labels the axes and the legend, and escapes text', () => {
    expect(svg).toContain('minutes since load start');
    expect(svg).toContain('>MiB</text>');
    expect(svg).toContain('judged span');
    expect(svg).toContain('aggregator-2 · standby');
    expect(svg).toContain('Soak &lt;test&gt; &amp; co');
    expect(svg).not.toContain('<test>');
  });

  it('scales y from 0 to a round tick above the largest value', () => {
    // Panel 1 tops at 70 MiB: ticks 0, 20, 40, 60, 80.
    expect(svg).toMatch(/text-anchor="end">80<\/text>/);
  });
});

describe('niceTicks', () => {
  it('steps of 1, 2 or 5 × 10^k from 0 up to the first at or above the maximum', () => {
    expect(niceTicks(70)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(10)).toEqual([0, 5, 10]);
    expect(niceTicks(0.5)).toEqual([0, 0.2, 0.4, 0.6]);
    expect(niceTicks(30)).toEqual([0, 10, 20, 30]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
