#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-to-docbook.py RESULTS.md OUT.xml [--plot OUT.svg --gnuplot GNUPLOT]
#
# Writes the guide's performance chapter from bench/RESULTS.md (which
# bench/run writes): the machine, every results table, the targets; and,
# when gnuplot is given, an SVG plot of the one-fd ping-pong table in C (µs
# per round, log scale; the two-fd table of older files, ns per
# iteration) included in the chapter.

import argparse
import os
import re
import subprocess
import sys
import tempfile
from xml.sax.saxutils import escape


def inline(text):
    """Markdown inline code and ^ exponents to DocBook."""
    parts = re.split(r'`([^`]*)`', text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append('<literal>%s</literal>' % escape(part))
        else:
            part = escape(part)
            out.append(re.sub(r'10\^(\d+)', r'10<superscript>\1</superscript>', part))
    return ''.join(out)


def cells(line):
    return [c.strip() for c in line.strip().strip('|').split('|')]


def parse(md):
    """Sections as (level, title, [blocks]); a block is ('p', text),
    ('list', [items]) or ('table', header, rows)."""
    sections = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r'(#+) (.*)', line)
        if m:
            sections.append((len(m.group(1)), m.group(2), []))
        elif sections and line.startswith('|'):
            header = cells(line)
            rows = []
            i += 2  # the separator line
            while i < len(lines) and lines[i].startswith('|'):
                rows.append(cells(lines[i]))
                i += 1
            sections[-1][2].append(('table', header, rows))
            continue
        elif sections and line.startswith('- '):
            items = []
            while i < len(lines) and lines[i].startswith('- '):
                items.append(lines[i][2:])
                i += 1
            sections[-1][2].append(('list', items))
            continue
        elif sections and line.strip():
            sections[-1][2].append(('p', line.strip()))
        i += 1
    return sections


def table_xml(title, header, rows):
    out = ['<informaltable frame="all"><tgroup cols="%d">' % len(header), '<thead><row>']
    out += ['<entry>%s</entry>' % inline(h) for h in header]
    out.append('</row></thead><tbody>')
    for r in rows:
        out.append('<row>' + ''.join('<entry>%s</entry>' % inline(c) for c in r) + '</row>')
    out.append('</tbody></tgroup></informaltable>')
    return '\n'.join(out)


def plot(sections, svg, gnuplot):
    ping = None
    unit = 'µs per round'
    for level, title, blocks in sections:
        if title.startswith('One-fd ping-pong in C'):
            ping = next(b for b in blocks if b[0] == 'table')
            break
        if title.startswith('Ping-pong'):
            ping = next(b for b in blocks if b[0] == 'table')
            unit = 'ns per iteration'
    if ping is None:
        return False
    _, header, rows = ping
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'ping-pong.dat')
        with open(data, 'w', encoding='utf-8') as f:
            for r in rows:
                name = r[0].replace(', added before the active pair', ' (idle first)')
                sup = str.maketrans('0123456789', '⁰¹²³⁴⁵⁶⁷⁸⁹')
                name = re.sub(r'10\^(\d+)', lambda m: '10' + m.group(1).translate(sup), name)
                # gnuplot leaves out "?" (a case that failed or was not run).
                values = [v.replace(',', '') for v in r[1:4]]
                values = [v if re.fullmatch(r'[0-9.]+', v) else '?' for v in values]
                f.write('"%s" %s\n' % (name, ' '.join(values)))
        script = f'''
set terminal svg size 900,480 dynamic noenhanced font "sans,11"
set output "{svg}"
set title "One fd watched, every round waits afresh: {unit} (log scale, lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set datafile missing "?"
set logscale y
set ylabel "{unit}"
set xtics rotate by -25 scale 0
set key top left
set grid ytics
plot "{data}" using 2:xtic(1) title "{header[1]}", "" using 3 title "{header[2]}", "" using 4 title "{header[3]}"
'''
        subprocess.run([gnuplot], input=script.encode('utf-8'), check=True)
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('results')
    parser.add_argument('output')
    parser.add_argument('--plot')
    parser.add_argument('--gnuplot')
    args = parser.parse_args()

    with open(args.results, encoding='utf-8') as f:
        sections = parse(f.read())

    have_plot = bool(args.plot and args.gnuplot and plot(sections, args.plot, args.gnuplot))
    if args.plot and not have_plot:
        # The build declares the file: an empty picture, not referenced.
        with open(args.plot, 'w', encoding='utf-8') as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n')

    ids = set()
    out = ['<?xml version="1.0"?>',
           '<!DOCTYPE chapter PUBLIC "-//OASIS//DTD DocBook XML V4.3//EN"',
           '               "http://www.oasis-open.org/docbook/xml/4.3/docbookx.dtd">',
           '<chapter id="guide-performance">',
           '<title>Performance</title>',
           '<para>GLib walks every attached source twice per main-loop iteration and hands '
           'every watched file descriptor to <function>poll()</function>, so a GLib '
           'application with many timers or descriptors pays for all of them on every '
           'iteration. A <link linkend="GbridgeIOLoop">GbridgeIOLoop</link> attaches one '
           'source whatever it holds: a ready queue, a timer heap and one epoll set. The '
           'tables below are <filename>bench/RESULTS.md</filename>, written by '
           '<command>bench/run</command> (see <filename>bench/README.md</filename>): every '
           'number is the median of several repetitions in one run, and every ratio '
           'compares numbers of the same run on the same machine. This chapter is '
           'generated from that file when the documentation is built.</para>']
    if have_plot:
        out.append('<figure id="guide-performance-plot"><title>Ping-pong cost per '
                   'round with pending timers and idle descriptors</title>'
                   '<mediaobject><imageobject><imagedata fileref="%s" format="SVG"/>'
                   '</imageobject><textobject><phrase>A bar chart: gbridge and libuv stay '
                   'flat as timers and idle descriptors are added, GLib grows linearly.'
                   '</phrase></textobject></mediaobject></figure>' % os.path.basename(args.plot))
    for level, title, blocks in sections:
        if level == 1 or title == 'Samples' or title == 'Results':
            continue
        ident = 'guide-performance-' + re.sub(r'[^a-z0-9]+', '-', title.lower().split(':')[0]).strip('-')
        # Titles alike up to their colon get distinct ids.
        base, n = ident, 2
        while ident in ids:
            ident = '%s-%d' % (base, n)
            n += 1
        ids.add(ident)
        out.append('<section id="%s"><title>%s</title>' % (ident, inline(title)))
        for block in blocks:
            if block[0] == 'p':
                out.append('<para>%s</para>' % inline(block[1]))
            elif block[0] == 'list':
                out.append('<itemizedlist>' + ''.join(
                    '<listitem><para>%s</para></listitem>' % inline(item) for item in block[1])
                    + '</itemizedlist>')
            else:
                out.append(table_xml(title, block[1], block[2]))
        out.append('</section>')
    out.append('</chapter>')

    with open(args.output, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
