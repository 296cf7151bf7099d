using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Kai.Hub.Observability;

/// <summary>
/// Exposes <see cref="System.Diagnostics.Metrics"/> instruments in the Prometheus text exposition format 0.0.4,
/// through a <see cref="MeterListener"/>. The Prometheus exporter packages do not restore here (see docs/decisions.md),
/// so this is the smallest correct aggregation: counters and up-down counters as sums, histograms as cumulative
/// buckets with sum and count, observable instruments read at scrape time.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Meters exported: the hub's own, ASP.NET Core's HTTP and Kestrel meters, and the runtime's (GC, memory, threads).</summary>
    public static readonly string[] Meters = [HubMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime"];

    private static readonly double[] SecondsBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
    private readonly object _scrapeLock = new();

    public PrometheusExporter(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this host's meters (their Scope is its IMeterFactory) and process-wide ones (no scope, e.g. System.Runtime):
            // several hosts in one process, as in tests, must not report each other's counts.
            var meter = instrument.Meter;
            if (Meters.Contains(meter.Name, StringComparer.Ordinal) && (meter.Scope is null || ReferenceEquals(meter.Scope, factory)))
            {
                var series = new Series(instrument);
                // Instruments that export under one name share one series, so each name has one HELP and TYPE.
                listener.EnableMeasurementEvents(instrument, _series.GetOrAdd(series.Name, series));
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, state) => ((Series)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, state) => ((Series)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, state) => ((Series)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, state) => ((Series)state!).Record(v, tags));
        _listener.Start();
    }

    /// <summary>Renders every series; observable instruments are read now.</summary>
    public string Scrape()
    {
        var text = new StringBuilder(16 * 1024);
        lock (_scrapeLock)
        {
            foreach (var s in _series.Values)
            {
                if (s.IsObservable)
                {
                    s.ResetGauges();
                }
            }
            _listener.RecordObservableInstruments();
            foreach (var s in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            {
                s.Write(text);
            }
        }
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private sealed class Series
    {
        private readonly ConcurrentDictionary<string, Point> _points = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, string> _singleLabel = new(StringComparer.Ordinal);
        private readonly string _kind;
        private readonly string _help;
        private readonly bool _isHistogram;
        private readonly bool _isCumulative;

        public Series(Instrument instrument)
        {
            var type = instrument.GetType().GetGenericTypeDefinition();
            _isHistogram = type == typeof(Histogram<>);
            _isCumulative = type == typeof(Counter<>) || type == typeof(ObservableCounter<>);
            IsObservable = instrument.IsObservable;
            var baseName = Sanitize(instrument.Name);
            var unit = instrument.Unit switch
            {
                "s" => "_seconds",
                "By" => "_bytes",
                "ms" => "_milliseconds",
                _ => "",
            };
            if (unit.Length > 0 && baseName.EndsWith(unit, StringComparison.Ordinal))
            {
                unit = "";
            }
            // Prometheus reserves _count (and _sum, _bucket) for histograms and summaries: a gauge such as the
            // runtime's dotnet.timer.count is exported as dotnet_timer_number.
            if (!_isHistogram && unit.Length == 0 && baseName.EndsWith("_count", StringComparison.Ordinal))
            {
                baseName = baseName[..^"_count".Length] + "_number";
            }
            Name = baseName + unit + (_isCumulative ? "_total" : "");
            _kind = _isHistogram ? "histogram" : _isCumulative ? "counter" : "gauge";
            _help = (instrument.Description ?? instrument.Name).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
        }

        public string Name { get; }

        public bool IsObservable { get; }

        public void ResetGauges()
        {
            if (!_isCumulative)
            {
                _points.Clear();
            }
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = Key(tags);
            var point = _points.GetOrAdd(key, static (k, s) => new Point(s._isHistogram ? new long[SecondsBuckets.Length + 1] : null), this);
            if (_isHistogram)
            {
                point.Observe(value);
            }
            else if (IsObservable)
            {
                // Observable instruments report the current value (cumulative counters report a running total).
                point.Set(value);
            }
            else
            {
                point.Add(value);
            }
        }

        /// <summary>The label text of a tag set. The common one-string-tag case is cached, so the hot path does not allocate.</summary>
        private string Key(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }
            if (tags.Length == 1 && tags[0].Value is string single)
            {
                return _singleLabel.GetOrAdd(single, static (v, k) => $"{Sanitize(k)}=\"{Escape(v)}\"", tags[0].Key);
            }
            var sb = new StringBuilder();
            foreach (var tag in tags)
            {
                if (sb.Length > 0)
                {
                    sb.Append(',');
                }
                sb.Append(Sanitize(tag.Key)).Append("=\"").Append(Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
            }
            return sb.ToString();
        }

        public void Write(StringBuilder text)
        {
            if (_points.IsEmpty)
            {
                return;
            }
            text.Append("# HELP ").Append(Name).Append(' ').Append(_help).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(_kind).Append('\n');
            foreach (var (labels, point) in _points.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (_isHistogram)
                {
                    var (buckets, sum, count) = point.Snapshot();
                    long cumulative = 0;
                    for (var i = 0; i < SecondsBuckets.Length; i++)
                    {
                        cumulative += buckets[i];
                        Line(text, Name + "_bucket", Join(labels, $"le=\"{SecondsBuckets[i].ToString(CultureInfo.InvariantCulture)}\""), cumulative);
                    }
                    Line(text, Name + "_bucket", Join(labels, "le=\"+Inf\""), count);
                    Line(text, Name + "_sum", labels, sum);
                    Line(text, Name + "_count", labels, count);
                }
                else
                {
                    Line(text, Name, labels, point.Value);
                }
            }
        }

        private static string Join(string a, string b) => a.Length == 0 ? b : a + "," + b;

        private static void Line(StringBuilder text, string name, string labels, double value)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }
            text.Append(' ').Append(Format(value)).Append('\n');
        }

        private static string Format(double v) =>
            double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
    }

    private sealed class Point(long[]? buckets)
    {
        private readonly object _gate = new();
        private double _value;
        private double _sum;
        private long _count;

        public double Value
        {
            get
            {
                lock (_gate)
                {
                    return _value;
                }
            }
        }

        public void Add(double v)
        {
            lock (_gate)
            {
                _value += v;
            }
        }

        public void Set(double v)
        {
            lock (_gate)
            {
                _value = v;
            }
        }

        public void Observe(double v)
        {
            var i = Array.BinarySearch(SecondsBuckets, v);
            var bucket = i >= 0 ? i : ~i;
            lock (_gate)
            {
                buckets![bucket]++;
                _sum += v;
                _count++;
            }
        }

        public (long[] Buckets, double Sum, long Count) Snapshot()
        {
            lock (_gate)
            {
                return ((long[])buckets!.Clone(), _sum, _count);
            }
        }
    }

    /// <summary>Metric and label names: <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>; anything else becomes <c>_</c>.</summary>
    internal static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            var c = chars[i];
            if (!(char.IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && char.IsAsciiDigit(c))))
            {
                chars[i] = '_';
            }
        }
        return new string(chars);
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
