// report.js draws the charts of an mljob report from the JSON block
// #report-data (built by internal/report). It runs from the page itself,
// with the inlined ECharts, and fetches nothing. Each objective's charts
// (data.groups) draw its runs only, and colour them by its goal: blue is
// best, orange worst.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = [];
  var good = '#2f6fde', bad = '#e8a33d', faint = '#98a2b3', ink = '#1f2430';
  // The colours of the best runs' learning curves, best first.
  var topColours = ['#2f6fde', '#d92d20', '#12b76a', '#7a5af8', '#f79009'];
  var font = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';

  // esc makes job-supplied text safe inside ECharts' HTML tooltips.
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function fmt(v) {
    if (typeof v !== 'number') return String(v);
    if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return Number(v.toPrecision(4)).toExponential();
    return String(Math.round(v * 1e4) / 1e4);
  }

  // clip shortens a category label; the tooltip shows it whole.
  function clip(s) {
    s = String(s);
    return s.length > 24 ? s.slice(0, 23) + '…' : s;
  }

  function draw(id, option, renderer) {
    var el = document.getElementById(id);
    if (!el) return;
    // Animation off: the page is read, not watched, and a screenshot or a
    // print should show the finished chart.
    option.animation = false;
    option.textStyle = { fontFamily: font };
    var chart = echarts.init(el, null, { renderer: renderer || 'canvas' });
    chart.setOption(option);
    charts.push(chart);
  }

  function hex(c) {
    return [1, 3, 5].map(function (i) { return parseInt(c.slice(i, i + 2), 16); });
  }

  // shade returns the colour of a value of group g: good for its best
  // charted value, bad for its worst, by the objective's goal.
  function shade(g) {
    var values = g.points.map(function (p) { return p.value; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var from = hex(bad), to = hex(good);
    return function (v) {
      var t = hi > lo ? (v - lo) / (hi - lo) : 1;
      if (!g.higherIsBetter) t = 1 - t;
      return '#' + from.map(function (a, k) {
        var x = Math.round(a + (to[k] - a) * t);
        return (x < 16 ? '0' : '') + x.toString(16);
      }).join('');
    };
  }

  function runTip(p) {
    return 'job ' + p.job + ' · order ' + p.order;
  }

  function valueTip(g, p) {
    return esc(g.objective) + ' = ' + esc(fmt(p.value)) + (p.spread != null ? ' ± ' + esc(fmt(p.spread)) : '');
  }

  // objectiveAxis is the value axis of g's objective, named with its
  // direction, reaching the baseline (a mark line alone would not widen
  // it) and the error bars.
  function objectiveAxis(g) {
    var axis = { type: 'value', name: g.objective + ' (' + g.better + ')', scale: true,
      nameTextStyle: { align: 'left', fontWeight: 600 }, axisLabel: { formatter: fmt },
      splitLine: { lineStyle: { color: '#eef0f3' } } };
    if (g.baseline) {
      var b = g.baseline.value;
      axis.min = function (e) { return Math.min(e.min, b) - 0.05 * (Math.max(e.max, b) - Math.min(e.min, b)); };
      axis.max = function (e) { return Math.max(e.max, b) + 0.05 * (Math.max(e.max, b) - Math.min(e.min, b)); };
      axis.axisLabel = { formatter: fmt, showMinLabel: false, showMaxLabel: false };
    }
    return axis;
  }

  // baselineLine is the dashed line of g's baseline, for a series' markLine.
  function baselineLine(g) {
    if (!g.baseline) return undefined;
    return { silent: true, symbol: 'none', lineStyle: { color: ink, type: 'dashed', width: 1.2 },
      label: { formatter: 'baseline ' + fmt(g.baseline.value), position: 'insideEndTop', color: ink },
      data: [{ yAxis: g.baseline.value }] };
  }

  // errorBars draws ±spread around each point that has one; x gives a
  // point's position on the x axis.
  function errorBars(g, x) {
    var bars = g.points.filter(function (p) { return p.spread != null; });
    return { type: 'custom', silent: true, z: 1, encode: { x: 0, y: [1, 2] },
      data: bars.map(function (p) { return [x(p), p.value - p.spread, p.value + p.spread]; }),
      renderItem: function (params, api) {
        var lo = api.coord([api.value(0), api.value(1)]), hi = api.coord([api.value(0), api.value(2)]);
        var style = { stroke: faint, lineWidth: 1 };
        return { type: 'group', children: [
          { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style: style },
          { type: 'line', shape: { x1: lo[0] - 3, y1: lo[1], x2: lo[0] + 3, y2: lo[1] }, style: style },
          { type: 'line', shape: { x1: hi[0] - 3, y1: hi[1], x2: hi[0] + 3, y2: hi[1] }, style: style }
        ] };
      } };
  }

  var grid = { left: 72, right: 24, top: 40, bottom: 44 };

  // One chart per varying parameter: a scatter over a value axis for
  // numbers, boxes plus points over a category axis otherwise (a field
  // with a sentinel value included), coloured by the objective.
  function drawParam(g, param, i) {
    var pts = g.points, colour = shade(g);
    var tip = function (p) {
      return esc(runTip(p)) + '<br>' + esc(param.name) + ' = ' + esc(fmt(p.values[i])) + '<br>' + valueTip(g, p);
    };
    var points = { type: 'scatter', symbolSize: 9, markLine: baselineLine(g), z: 3,
      itemStyle: { opacity: 0.85, borderColor: '#ffffff', borderWidth: 0.5 } };
    if (param.numeric) {
      points.data = pts.map(function (p) { return { value: [p.values[i], p.value], itemStyle: { color: colour(p.value) } }; });
      draw(g.id + '-param-' + i, {
        grid: grid,
        tooltip: { trigger: 'item', formatter: function (it) { return tip(pts[it.dataIndex]); } },
        xAxis: { type: param.log ? 'log' : 'value', scale: true, name: param.name + (param.log ? ' (log scale)' : ''),
          nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: fmt }, splitLine: { show: false } },
        yAxis: objectiveAxis(g),
        series: [points, errorBars(g, function (p) { return p.values[i]; })]
      });
      return;
    }
    var index = {};
    param.categories.forEach(function (c, k) { index[c] = k; });
    points.data = pts.map(function (p) { return { value: [index[p.values[i]], p.value], itemStyle: { color: colour(p.value) } }; });
    draw(g.id + '-param-' + i, {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        if (it.seriesType === 'boxplot') {
          var b = param.boxes[it.dataIndex];
          return esc(param.name) + ' = ' + esc(param.categories[it.dataIndex]) + '<br>median ' + esc(fmt(b[2])) +
            ' (' + esc(fmt(b[0])) + ' … ' + esc(fmt(b[4])) + ')';
        }
        return tip(pts[it.dataIndex]);
      } },
      xAxis: { type: 'category', data: param.categories, nameLocation: 'middle', nameGap: 26,
        name: param.name + (param.sentinel ? ' (categories: ' + param.sentinel + ' is a sentinel)' : ''),
        axisLabel: { hideOverlap: true, formatter: clip } },
      yAxis: objectiveAxis(g),
      series: [
        { type: 'boxplot', data: param.boxes, itemStyle: { color: '#eef3fd', borderColor: '#b2c7f0' } },
        points,
        errorBars(g, function (p) { return index[p.values[i]]; })
      ]
    });
  }

  // Parallel coordinates: one axis per parameter, then loss (when every
  // charted run has one and it is not the objective), then the objective,
  // which colours the lines by its goal.
  function drawParallel(g) {
    var axes = g.params.map(function (param, i) {
      var a = { dim: i, name: param.name };
      if (param.numeric) {
        a.type = param.log ? 'log' : 'value';
        a.scale = true;
      } else {
        a.type = 'category';
        a.data = param.categories;
        a.axisLabel = { formatter: clip };
      }
      return a;
    });
    var withLoss = g.objective !== 'loss' && g.points.every(function (p) { return p.loss !== null; });
    if (withLoss) axes.push({ dim: axes.length, name: 'loss', type: 'value', scale: true });
    var valueDim = axes.length;
    axes.push({ dim: valueDim, name: g.objective + '\n(' + g.better + ')', type: 'value', scale: true,
      nameTextStyle: { fontWeight: 600 } });
    var values = g.points.map(function (p) { return p.value; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (lo === hi) { lo -= 1; hi += 1; }
    draw(g.id + '-parallel', {
      parallel: { left: 48, right: 150, top: 72, bottom: 36,
        parallelAxisDefault: { nameLocation: 'end', nameGap: 14, nameTextStyle: { fontSize: 12 },
          axisLabel: { formatter: fmt, hideOverlap: true } } },
      parallelAxis: axes,
      visualMap: { type: 'continuous', dimension: valueDim, min: lo, max: hi, right: 8, top: 'middle',
        itemHeight: 160, calculable: true, formatter: fmt,
        text: g.higherIsBetter ? ['best (highest)', 'worst'] : ['worst', 'best (lowest)'],
        inRange: { color: g.higherIsBetter ? [bad, good] : [good, bad] } },
      tooltip: { trigger: 'item', formatter: function (it) {
        return esc(runTip(g.points[it.dataIndex])) + '<br>' + valueTip(g, g.points[it.dataIndex]);
      } },
      series: [{ type: 'parallel', lineStyle: { width: 1.6, opacity: 0.7 },
        data: g.points.map(function (p) {
          var row = p.values.slice();
          if (withLoss) row.push(p.loss);
          row.push(p.value);
          return row;
        }) }]
    });
  }

  // Learning curves: one line per run, the best (rank 1 to 5 by the
  // objective) in colour above the rest, which are faint. Drawn as SVG:
  // one path per run, and a hover on any line names its run.
  function drawCurves(g) {
    var cv = g.curves;
    var lo = Infinity, hi = -Infinity;
    cv.runs.forEach(function (c) {
      c.points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
    });
    // A log axis once the curves span a decade: a diverged run or the
    // first epochs would flatten the rest on a linear one.
    var log = lo > 0 && hi / lo >= 10;
    var yName = cv.isObjective ? g.objective + ' (' + g.better + ')'
      : cv.metric + ' (not the objective; colours: best by ' + g.objective + ', ' + g.better + ')';
    var series = cv.runs.map(function (c) {
      var best = c.rank > 0;
      if (c.pruned) {
        // Stopped by its pruner: faint and dotted, under the rest, ending
        // at the step it was stopped at.
        return { type: 'line', name: 'job ' + c.job + ' (pruned)', data: c.points,
          showSymbol: false, triggerLineEvent: true, z: 1, itemStyle: { color: faint },
          lineStyle: { width: 1, color: faint, opacity: 0.5, type: 'dotted' },
          emphasis: { focus: 'series', lineStyle: { width: 2.5, opacity: 1 } } };
      }
      return { type: 'line', name: best ? '#' + c.rank + ' job ' + c.job : 'job ' + c.job, data: c.points,
        showSymbol: false, triggerLineEvent: true, z: best ? 10 - c.rank : 2, // the best on top
        itemStyle: { color: best ? topColours[c.rank - 1] : faint },
        lineStyle: { width: best ? 2.2 : 1, color: best ? topColours[c.rank - 1] : faint, opacity: best ? 0.95 : 0.35 },
        emphasis: { focus: 'series', lineStyle: { width: 3, opacity: 1 } } };
    });
    if (g.baseline && cv.isObjective && series.length > 0) series[0].markLine = baselineLine(g);
    draw(g.id + '-curves', {
      grid: { left: 72, right: 24, top: 64, bottom: 44 },
      legend: { top: 0, data: series.filter(function (s, k) { return cv.runs[k].rank > 0; }).map(function (s) { return s.name; }) },
      xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 26, min: 'dataMin', max: 'dataMax',
        axisLabel: { formatter: fmt }, splitLine: { show: false } },
      yAxis: { type: log ? 'log' : 'value', scale: true, name: yName + (log ? ', log scale' : ''),
        nameTextStyle: { align: 'left', fontWeight: 600 }, axisLabel: { formatter: fmt },
        splitLine: { lineStyle: { color: '#eef0f3' } } },
      series: series
    }, 'svg');
    // ECharts shows no item tooltip on a line without symbols (and a
    // symbol per point of every run would weigh the page down), so the
    // chart has a tooltip of its own: hovering a line names its run and
    // shows its point nearest the mouse.
    var chart = charts[charts.length - 1], el = document.getElementById(g.id + '-curves');
    var tip = document.createElement('div');
    tip.className = 'curve-tip';
    el.parentNode.appendChild(tip);
    var show = function (e) {
      if (!e.event) return;
      var c = cv.runs[e.seriesIndex];
      var step = chart.convertFromPixel({ seriesIndex: e.seriesIndex }, [e.event.offsetX, e.event.offsetY])[0];
      var near = c.points[0];
      c.points.forEach(function (p) { if (Math.abs(p[0] - step) < Math.abs(near[0] - step)) near = p; });
      tip.innerHTML = curveTip(g, c) + '<br>' + esc(cv.metric) + ' at step ' + esc(fmt(near[0])) + ' = ' + esc(fmt(near[1]));
      tip.dataset.job = c.job;
      tip.style.left = Math.min(e.event.offsetX + 16, el.clientWidth - 300) + 'px';
      tip.style.top = (e.event.offsetY + 16) + 'px';
      tip.style.display = 'block';
    };
    var hide = function () { tip.style.display = 'none'; };
    chart.on('mouseover', { seriesType: 'line' }, show);
    chart.on('mousemove', { seriesType: 'line' }, show);
    chart.on('mouseout', { seriesType: 'line' }, hide);
    chart.getZr().on('globalout', hide);
  }

  // curveTip is the text that names run c of group g's curves.
  function curveTip(g, c) {
    return esc(runTip(c)) + (c.rank ? ' · #' + c.rank + ' by ' + esc(g.objective) : '') +
      (c.pruned ? '<br>' + esc(c.pruned) : '') + '<br>' + esc(c.config) +
      '<br>' + esc(g.objective) + ' = ' + esc(c.objective) + (c.series > 1 ? ' · mean of ' + c.series + ' series' : '');
  }

  // Optimisation history: each run's objective in the order the runs
  // ended, coloured by it, and the best so far as a step line.
  function drawHistory(g) {
    var h = g.history, colour = shade(g);
    draw(g.id + '-history', {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        var p = h[it.dataIndex];
        return 'run ' + p.n + ' to end · job ' + p.job + '<br>' + esc(g.objective) + ' = ' + esc(fmt(p.value)) +
          '<br>best so far ' + esc(fmt(p.best));
      } },
      legend: { top: 0, data: ['run', 'best so far'] },
      xAxis: { type: 'value', name: 'run (in the order they ended)', nameLocation: 'middle', nameGap: 26,
        min: 1, max: Math.max(h.length, 2), minInterval: 1, splitLine: { show: false } },
      yAxis: objectiveAxis(g),
      series: [
        { type: 'scatter', name: 'run', symbolSize: 8, z: 3, itemStyle: { color: faint },
          data: h.map(function (p) { return { value: [p.n, p.value], itemStyle: { color: colour(p.value) } }; }) },
        { type: 'line', name: 'best so far', step: 'end', showSymbol: false, silent: true, z: 2,
          itemStyle: { color: ink }, lineStyle: { color: ink, width: 1.8 },
          data: h.map(function (p) { return [p.n, p.best]; }), markLine: baselineLine(g) }
      ]
    });
  }

  // Parameter importance: one bar per parameter, its share of the
  // objective's variance explained (eta squared, normalised), largest on top.
  function drawImportance(g) {
    var m = g.importance.slice().reverse();
    draw(g.id + '-importance', {
      grid: { left: 150, right: 48, top: 16, bottom: 36 },
      tooltip: { trigger: 'item', formatter: function (it) {
        var x = m[it.dataIndex];
        return esc(x.param) + '<br>share ' + esc(fmt(x.share)) + ' · eta² ' + esc(fmt(x.etaSq)) + ' over ' + x.bins + ' bins';
      } },
      xAxis: { type: 'value', min: 0, max: 1, name: 'share of variance explained', nameLocation: 'middle', nameGap: 22 },
      yAxis: { type: 'category', data: m.map(function (x) { return x.param; }), axisLabel: { formatter: clip } },
      series: [{ type: 'bar', data: m.map(function (x) { return x.share; }), itemStyle: { color: good },
        label: { show: true, position: 'right', formatter: function (it) { return Math.round(it.value * 100) + ' %'; } } }]
    });
  }

  // The objective against each run's cost (CPU- or GPU-seconds).
  function drawCost(g) {
    var c = g.cost, colour = shade(g);
    var lo = Math.min.apply(null, c.points.map(function (p) { return p.cost; }));
    var hi = Math.max.apply(null, c.points.map(function (p) { return p.cost; }));
    var log = lo > 0 && hi / lo >= 100;
    draw(g.id + '-cost', {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        var p = c.points[it.dataIndex];
        return 'job ' + p.job + ' · attempt ' + p.attempt + '<br>' + esc(c.unit) + ' ' + esc(fmt(p.cost)) +
          '<br>' + esc(g.objective) + ' = ' + esc(fmt(p.value));
      } },
      xAxis: { type: log ? 'log' : 'value', scale: true, name: c.unit + (log ? ' (log scale)' : ''),
        nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: fmt }, splitLine: { show: false } },
      yAxis: objectiveAxis(g),
      series: [{ type: 'scatter', symbolSize: 9, markLine: baselineLine(g),
        itemStyle: { opacity: 0.85, borderColor: '#ffffff', borderWidth: 0.5 },
        data: c.points.map(function (p) { return { value: [p.cost, p.value], itemStyle: { color: colour(p.value) } }; }) }]
    });
  }

  data.groups.forEach(function (g) {
    if (g.curves) drawCurves(g);
    if (g.points.length === 0) return;
    if (g.history) drawHistory(g);
    if (g.importance && g.importance.length > 0) drawImportance(g);
    if (g.cost) drawCost(g);
    g.params.forEach(function (param, i) { drawParam(g, param, i); });
    if (g.params.length > 0) drawParallel(g);
  });

  // Replicates: per configuration (by the rank it was picked at), each
  // value a dot, and the mean ± SD as a diamond with a bar.
  data.replicates.forEach(function (r, i) {
    var labels = r.configurations.map(function (c) { return '#' + c.rank + ' job ' + c.jobId; });
    var dots = [], means = [];
    r.configurations.forEach(function (c, k) {
      c.values.forEach(function (v, j) { dots.push({ value: [k, v], job: c.jobs[j] }); });
      if (c.mean != null) means.push({ value: [k, c.mean, c.mean - (c.sd || 0), c.mean + (c.sd || 0)], c: c });
    });
    draw('rep-' + i, {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        if (it.seriesName === 'mean') {
          var c = it.data.c;
          return esc(labels[it.value[0]]) + '<br>mean ' + esc(fmt(c.mean)) + (c.sd != null ? ' ± ' + esc(fmt(c.sd)) : '') +
            ' over ' + c.n + '<br>rank by mean ' + c.rankByMean;
        }
        return 'job ' + it.data.job + '<br>' + esc(r.objective) + ' = ' + esc(fmt(it.value[1]));
      } },
      xAxis: { type: 'category', data: labels, axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', scale: true, name: r.objective + (r.goal === 'maximize' ? ' (higher is better)' : ' (lower is better)'),
        nameTextStyle: { align: 'left', fontWeight: 600 }, axisLabel: { formatter: fmt },
        splitLine: { lineStyle: { color: '#eef0f3' } } },
      series: [
        { type: 'scatter', name: 'value', symbolSize: 7, itemStyle: { color: faint, opacity: 0.9 }, data: dots },
        { type: 'custom', name: 'sd', silent: true, z: 1, encode: { x: 0, y: [1, 2] },
          data: means.map(function (m) { return [m.value[0], m.value[2], m.value[3]]; }),
          renderItem: function (params, api) {
            var lo = api.coord([api.value(0), api.value(1)]), hi = api.coord([api.value(0), api.value(2)]);
            var style = { stroke: ink, lineWidth: 1.2 };
            return { type: 'group', children: [
              { type: 'line', shape: { x1: lo[0] + 12, y1: lo[1], x2: hi[0] + 12, y2: hi[1] }, style: style },
              { type: 'line', shape: { x1: lo[0] + 8, y1: lo[1], x2: lo[0] + 16, y2: lo[1] }, style: style },
              { type: 'line', shape: { x1: hi[0] + 8, y1: hi[1], x2: hi[0] + 16, y2: hi[1] }, style: style }
            ] };
          } },
        { type: 'scatter', name: 'mean', symbol: 'diamond', symbolSize: 12, symbolOffset: [12, 0], z: 4,
          itemStyle: { color: good }, data: means }
      ]
    });
  });

  // Run time per host: a box of succeeded runs' durations, and the runs.
  if (data.hostTimes.length > 0) {
    var hosts = data.hostTimes;
    draw('hosts', {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        var h = hosts[it.dataIndex];
        if (it.seriesType === 'boxplot') {
          return esc(h.host) + '<br>' + h.seconds.length + ' succeeded, ' + h.failed + ' failed' +
            (h.seconds.length ? '<br>median ' + esc(fmt(h.box[2])) + ' s' : '');
        }
        return esc(hosts[it.value[0]].host) + ': ' + esc(fmt(it.value[1])) + ' s';
      } },
      xAxis: { type: 'category', name: 'host', nameLocation: 'middle', nameGap: 26,
        data: hosts.map(function (h) { return h.host; }), axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', name: 'run time (seconds)', scale: true, axisLabel: { formatter: fmt },
        nameTextStyle: { align: 'left' }, splitLine: { lineStyle: { color: '#eef0f3' } } },
      series: [
        { type: 'boxplot', itemStyle: { color: '#eef3fd', borderColor: good },
          data: hosts.map(function (h) { return h.seconds.length ? h.box : []; }) },
        { type: 'scatter', symbolSize: 7, itemStyle: { color: ink, opacity: 0.5 },
          data: [].concat.apply([], hosts.map(function (h, k) {
            return h.seconds.map(function (s) { return [k, s]; });
          })) }
      ]
    });
  }

  window.addEventListener('resize', function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
