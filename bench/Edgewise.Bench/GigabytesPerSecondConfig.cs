using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Edgewise.Core.Tensors;

namespace Edgewise.Bench;

/// <summary>Adds a GB/s column: bytes the benchmark streams (from its parameters) over the mean time.</summary>
public sealed class GigabytesPerSecondConfig : ManualConfig
{
    public GigabytesPerSecondConfig() => AddColumn(new GigabytesPerSecondColumn());

    private sealed class GigabytesPerSecondColumn : IColumn
    {
        public string Id => nameof(GigabytesPerSecondColumn);
        public string ColumnName => "GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Bytes streamed per second (weights for MatVec, the buffer for ReadAll), 1e9 bytes";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats) return "-";
            long bytes = BytesFor(benchmarkCase);
            return bytes <= 0 ? "-" : (bytes / stats.Mean).ToString("F1");  // bytes per ns == GB/s
        }

        private static long BytesFor(BenchmarkCase benchmarkCase)
        {
            object? format = benchmarkCase.Parameters["Format"];
            object? shape = benchmarkCase.Parameters["Shape"];
            if (format is GgmlType type && shape is string s)
            {
                (int rows, int columns) = MatVecBenchmarks.ParseShape(s);
                return GgmlTypeInfo.RowBytes(type, columns) * rows;
            }
            return benchmarkCase.Descriptor.Type == typeof(MemoryBandwidthBenchmarks) ? MemoryBandwidthBenchmarks.BufferBytes : 0;
        }
    }
}
