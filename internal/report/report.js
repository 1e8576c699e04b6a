// report.js draws the charts of an mljob report from the JSON block
// #report-data (built by internal/report). It runs from the page itself,
// with the inlined ECharts, and fetches nothing.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var charts = [];
  var good = '#2f6fde', bad = '#e8a33d';
  var font = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';

  // esc makes job-supplied text safe inside ECharts' HTML tooltips.
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  function fmt(v) {
    if (typeof v !== 'number') return String(v);
    if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-3)) return v.toExponential(3);
    return String(Math.round(v * 1e4) / 1e4);
  }

  // clip shortens a category label; the tooltip shows it whole.
  function clip(s) {
    s = String(s);
    return s.length > 24 ? s.slice(0, 23) + '…' : s;
  }

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    // Animation off: the page is read, not watched, and a screenshot or a
    // print should show the finished chart.
    option.animation = false;
    option.textStyle = { fontFamily: font };
    var chart = echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(option);
    charts.push(chart);
  }

  function runTip(p) {
    return 'job ' + p.job + ' · order ' + p.order;
  }

  var valueAxis = { type: 'value', name: data.valueName, scale: true, nameTextStyle: { align: 'left' },
    axisLabel: { formatter: fmt }, splitLine: { lineStyle: { color: '#eef0f3' } } };
  var grid = { left: 64, right: 24, top: 36, bottom: 40 };

  // One chart per varying parameter: a scatter over a value axis for
  // numbers, boxes plus points over a category axis otherwise.
  data.params.forEach(function (param, i) {
    var pts = data.points;
    if (param.numeric) {
      draw('param-' + i, {
        grid: grid,
        tooltip: { trigger: 'item', formatter: function (it) {
          var p = pts[it.dataIndex];
          return esc(runTip(p)) + '<br>' + esc(param.name) + ' = ' + esc(fmt(p.values[i])) +
            '<br>' + esc(data.valueName) + ' = ' + esc(fmt(p.value));
        } },
        xAxis: { type: param.log ? 'log' : 'value', scale: true, name: param.name, nameLocation: 'middle', nameGap: 26,
          axisLabel: { formatter: fmt }, splitLine: { show: false } },
        yAxis: valueAxis,
        series: [{ type: 'scatter', symbolSize: 9, itemStyle: { color: good, opacity: 0.75 },
          data: pts.map(function (p) { return [p.values[i], p.value]; }) }]
      });
      return;
    }
    var index = {};
    param.categories.forEach(function (c, k) { index[c] = k; });
    draw('param-' + i, {
      grid: grid,
      tooltip: { trigger: 'item', formatter: function (it) {
        if (it.seriesType === 'boxplot') {
          var b = param.boxes[it.dataIndex];
          return esc(param.name) + ' = ' + esc(param.categories[it.dataIndex]) + '<br>median ' + esc(fmt(b[2])) +
            ' (' + esc(fmt(b[0])) + ' … ' + esc(fmt(b[4])) + ')';
        }
        var p = pts[it.dataIndex];
        return esc(runTip(p)) + '<br>' + esc(param.name) + ' = ' + esc(p.values[i]) +
          '<br>' + esc(data.valueName) + ' = ' + esc(fmt(p.value));
      } },
      xAxis: { type: 'category', data: param.categories, name: param.name, nameLocation: 'middle', nameGap: 26,
        axisLabel: { hideOverlap: true, formatter: clip } },
      yAxis: valueAxis,
      series: [
        { type: 'boxplot', data: param.boxes, itemStyle: { color: '#eef3fd', borderColor: good } },
        { type: 'scatter', symbolSize: 8, itemStyle: { color: '#1f2430', opacity: 0.55 },
          data: pts.map(function (p) { return [index[p.values[i]], p.value]; }) }
      ]
    });
  });

  // Parallel coordinates: one axis per parameter, then loss (when every
  // charted run has one and it is not the charted value), then the value.
  if (data.params.length > 0 && data.points.length > 0) {
    var axes = data.params.map(function (param, i) {
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
    var withLoss = data.valueName !== 'loss' && data.points.every(function (p) { return p.loss !== null; });
    if (withLoss) axes.push({ dim: axes.length, name: 'loss', type: 'value', scale: true });
    var valueDim = axes.length;
    axes.push({ dim: valueDim, name: data.valueName, type: 'value', scale: true });
    var values = data.points.map(function (p) { return p.value; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (lo === hi) { lo -= 1; hi += 1; }
    draw('parallel', {
      parallel: { left: 48, right: 110, top: 48, bottom: 36,
        parallelAxisDefault: { nameLocation: 'end', nameGap: 14, nameTextStyle: { fontSize: 12 },
          axisLabel: { formatter: fmt, hideOverlap: true } } },
      parallelAxis: axes,
      visualMap: { type: 'continuous', dimension: valueDim, min: lo, max: hi, right: 8, top: 'middle',
        itemHeight: 160, calculable: true, precision: 4, text: [data.valueName, ''],
        inRange: { color: data.higherIsBetter ? [bad, good] : [good, bad] } },
      tooltip: { trigger: 'item', formatter: function (it) {
        return esc(runTip(data.points[it.dataIndex])) + '<br>' + esc(data.valueName) + ' = ' +
          esc(fmt(data.points[it.dataIndex].value));
      } },
      series: [{ type: 'parallel', lineStyle: { width: 1.6, opacity: 0.7 },
        data: data.points.map(function (p) {
          var row = p.values.slice();
          if (withLoss) row.push(p.loss);
          row.push(p.value);
          return row;
        }) }]
    });
  }

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
      xAxis: { type: 'category', data: hosts.map(function (h) { return h.host; }), axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', name: 'seconds', scale: true, axisLabel: { formatter: fmt },
        splitLine: { lineStyle: { color: '#eef0f3' } } },
      series: [
        { type: 'boxplot', itemStyle: { color: '#eef3fd', borderColor: good },
          data: hosts.map(function (h) { return h.seconds.length ? h.box : []; }) },
        { type: 'scatter', symbolSize: 7, itemStyle: { color: '#1f2430', opacity: 0.5 },
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
