// omniroi dashboard: progressive enhancement only. Pages work without this file; it
// draws charts from JSON islands, tucks their fallback tables behind a toggle (still read
// by screen readers), and makes the period picker submit on change.
(function () {
  'use strict';
  // Charts take space only when they can be drawn; without JS the tables stand alone.
  if (window.echarts) document.documentElement.classList.add('js');

  var PALETTE = ['#0f5d5e', '#e07a2f', '#3b82c4', '#8b5cf6', '#c2410c', '#15803d', '#be185d', '#64748b', '#ca8a04', '#0891b2'];

  function formatter(spec) {
    var f;
    if (spec.money && spec.currency) {
      try {
        f = new Intl.NumberFormat('en', { style: 'currency', currency: spec.currency, maximumFractionDigits: 0 });
      } catch (e) { f = null; }
    }
    if (!f) f = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });
    return function (v) { return f.format(v); };
  }

  // legendLines estimates how many lines a wrapping legend of these series takes in a
  // chart width px wide (ECharts' default legend: 25 px symbol, 5 px gap, 12 px text).
  function legendLines(series, width) {
    var w = Math.max(width || 0, 200), line = 0, lines = 1;
    series.forEach(function (s) {
      var item = 25 + 5 + String(s.name).length * 7 + 12;
      if (line > 0 && line + item > w) { lines++; line = 0; }
      line += item;
    });
    return lines;
  }

  // option turns the server's chart spec into an ECharts option.
  function option(spec, width) {
    var f = formatter(spec);
    var o = {
      animation: false,
      color: PALETTE,
      aria: { enabled: true, label: { description: spec.title + '. The numbers are in the table below the chart.' } },
      textStyle: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
      tooltip: { valueFormatter: f, confine: true }
    };
    var series = spec.series || [];
    switch (spec.kind) {
      case 'bar':
      case 'line':
        o.tooltip.trigger = 'axis';
        o.grid = { left: 8, right: 16, top: 16, bottom: 8, containLabel: true };
        if (series.length > 1) {
          // A legend that wraps onto at most three lines; more series than that are
          // named in the table, which is then shown open below the chart.
          var lines = legendLines(series, width);
          if (lines <= 3) {
            o.legend = { type: 'plain', top: 0, left: 0, right: 0, itemGap: 12 };
            o.grid.top = 16 + lines * 24;
          } else {
            o.legend = { show: false };
            spec.legendInTable = true;
          }
        }
        o.xAxis = { type: 'category', data: spec.x, axisLabel: { hideOverlap: true } };
        o.yAxis = { type: 'value', axisLabel: { formatter: f } };
        o.series = series.map(function (s) {
          return {
            name: s.name, type: spec.kind, data: s.data, barMaxWidth: 48,
            stack: spec.stacked ? 'total' : undefined,
            showSymbol: spec.kind === 'line' && (spec.x || []).length <= 31,
            areaStyle: spec.kind === 'line' && series.length === 1 ? { opacity: 0.12 } : undefined
          };
        });
        return o;
      case 'curve':
        // A response curve: the estimate with its interval shaded and the current point marked.
        o.tooltip.trigger = 'axis';
        o.grid = { left: 8, right: 16, top: 16, bottom: 8, containLabel: true };
        o.xAxis = { type: 'category', data: spec.x, boundaryGap: false, axisLabel: { hideOverlap: true } };
        o.yAxis = { type: 'value', axisLabel: { formatter: f } };
        var est = series[0] || { data: [] }, lo = series[1] || { data: [] }, hi = series[2] || { data: [] };
        o.series = [
          { name: lo.name, type: 'line', data: lo.data, stack: 'band', symbol: 'none', lineStyle: { opacity: 0 } },
          { name: hi.name, type: 'line', stack: 'band', symbol: 'none', lineStyle: { opacity: 0 }, areaStyle: { color: PALETTE[0], opacity: 0.15 },
            data: hi.data.map(function (v, i) { return v - lo.data[i]; }), tooltip: { valueFormatter: function () { return ''; } } },
          { name: est.name, type: 'line', data: est.data, symbol: 'none', color: PALETTE[0],
            markPoint: spec.mark ? { symbol: 'circle', symbolSize: 12, itemStyle: { color: PALETTE[1] },
              label: { show: true, position: 'top', formatter: spec.markname || '' },
              data: [{ coord: [spec.mark[0], spec.mark[1]], value: spec.mark[1] }] } : undefined }
        ];
        return o;
      case 'funnel':
        o.tooltip.trigger = 'item';
        o.series = [{
          type: 'funnel', left: '10%', width: '80%', sort: 'none', label: { show: true, position: 'inside', overflow: 'break' },
          // Each stage shows its count and the share going on to the next (spec.labels).
          data: (spec.x || []).map(function (n, i) {
            var d = { name: n, value: series[0].data[i] };
            if (spec.labels && spec.labels[i]) d.label = { formatter: spec.labels[i].replace(/[{}|]/g, '') };
            return d;
          })
        }];
        return o;
      case 'sankey':
        o.tooltip.trigger = 'item';
        o.series = [{
          type: 'sankey', emphasis: { focus: 'adjacency' }, lineStyle: { color: 'gradient', curveness: 0.5 },
          data: (spec.nodes || []).map(function (n) { return { name: n }; }), links: spec.links || []
        }];
        return o;
      case 'heatmap':
        var vals = (spec.cells || []).map(function (c) { return c[2]; });
        o.tooltip.trigger = 'item';
        o.grid = { left: 8, right: 16, top: 16, bottom: 64, containLabel: true };
        o.xAxis = { type: 'category', data: spec.x, splitArea: { show: true } };
        o.yAxis = { type: 'category', data: spec.y, inverse: true, splitArea: { show: true } }; // first row on top, like a cohort table
        o.visualMap = {
          min: Math.min.apply(null, vals.concat([0])), max: Math.max.apply(null, vals.concat([1])),
          calculable: true, orient: 'horizontal', left: 'center', bottom: 0, inRange: { color: ['#eef6f6', '#0f5d5e'] }
        };
        o.series = [{ type: 'heatmap', data: spec.cells, label: { show: vals.length <= 120, formatter: function (p) { return f(p.value[2]); } } }];
        return o;
    }
    return null;
  }

  // collapse hides a chart's fallback table visually (screen readers keep it) behind a toggle.
  function collapse(box) {
    var block = box.querySelector('.fallback');
    if (!block || block.querySelector('.toggle-table')) return;
    var head = block.querySelector('.table-head');
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'toggle-table';
    btn.textContent = 'Show table';
    btn.setAttribute('aria-expanded', 'false');
    btn.setAttribute('aria-controls', block.id);
    btn.addEventListener('click', function () {
      var open = block.classList.toggle('collapsed') === false;
      btn.setAttribute('aria-expanded', String(open));
      btn.textContent = open ? 'Hide table' : 'Show table';
    });
    block.classList.add('collapsed');
    head.appendChild(btn);
  }

  var charts = {};

  // draw renders one [data-chart] element from its JSON island.
  function draw(el) {
    var island = document.getElementById(el.getAttribute('data-chart') + '-data');
    if (!island || !window.echarts) return null;
    var spec = JSON.parse(island.textContent);
    var opt = option(spec, el.clientWidth);
    if (!opt) return null;
    if (spec.height) el.style.height = spec.height + 'px';
    var chart = window.echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(opt);
    charts[spec.id] = chart;
    var box = el.closest('.chart-box');
    if (box && spec.legendInTable) {
      var note = document.createElement('p');
      note.className = 'hint legend-note';
      note.textContent = 'Too many series to name in a legend: the table below names each one.';
      el.parentNode.insertBefore(note, el.nextSibling);
    } else if (box) collapse(box);
    return chart;
  }

  function drawCharts() {
    if (!window.echarts) return;
    document.querySelectorAll('[data-chart]').forEach(draw);
    var t;
    window.addEventListener('resize', function () {
      clearTimeout(t);
      t = setTimeout(function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); }, 100);
    });
  }

  function periodPicker() {
    var form = document.querySelector('form.range');
    if (!form) return;
    var sel = form.querySelector('select[name=range]');
    var dates = form.querySelectorAll('.dates input');
    function sync() { form.classList.toggle('js-preset', sel.value !== 'custom'); }
    sync();
    sel.addEventListener('change', function () {
      sync();
      if (sel.value === 'custom') {
        dates[0].focus();
        return;
      }
      // A preset needs no dates: leave them out of the URL.
      dates.forEach(function (d) { d.disabled = true; });
      form.submit();
    });
  }

  function copyButtons() {
    document.querySelectorAll('[data-copy]').forEach(function (b) {
      b.addEventListener('click', function () {
        var input = document.getElementById(b.getAttribute('data-copy'));
        input.select();
        if (navigator.clipboard) {
          navigator.clipboard.writeText(input.value).then(function () { b.textContent = 'Copied'; }, function () {});
        }
      });
    });
  }

  // Selects marked data-autosubmit (the model switch) reload the page on change; without
  // JS their form's button does the same.
  function autoSubmit() {
    document.querySelectorAll('select[data-autosubmit]').forEach(function (sel) {
      sel.addEventListener('change', function () { sel.form.submit(); });
    });
  }

  // On a phone the main menu is one button that opens the list (CSS hides it under
  // 640 px only when this ran, so the menu is never out of reach without JS).
  function phoneMenu() {
    var top = document.querySelector('header.top');
    var btn = top && top.querySelector('.menu-toggle');
    if (!btn) return;
    document.documentElement.classList.add('nav-js');
    btn.addEventListener('click', function () {
      var open = top.classList.toggle('open');
      btn.setAttribute('aria-expanded', String(open));
    });
  }

  window.omniroi = { charts: charts, draw: draw };
  document.addEventListener('DOMContentLoaded', function () {
    phoneMenu();
    periodPicker();
    copyButtons();
    autoSubmit();
    drawCharts();
  });
})();
