using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Formats.Safetensors;
using Spectre.Console;
using Spectre.Console.Rendering;
using SpectreText = Spectre.Console.Text;

namespace Edgewise.Cli.Commands;

/// <summary>
/// <c>edgewise inspect FILE</c>: metadata and tensor table of a GGUF file or a safetensors file/directory, read from
/// the header alone (tensor data is mapped but never touched, so multi-GB files answer instantly).
/// </summary>
internal static class InspectCommand
{
    private const int ArrayPreviewItems = 6;
    private const int TokenizerPreviewItems = 3;

    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A .gguf file, a .safetensors file, or a Hugging Face checkpoint directory." };
        var json = new Option<bool>("--json") { Description = "Print machine-readable JSON instead of tables." };
        var command = new Command("inspect", "Show a model file's metadata and tensor table without loading its weights.");
        command.Arguments.Add(path);
        command.Options.Add(json);
        command.SetAction(parseResult =>
        {
            TextWriter output = parseResult.InvocationConfiguration.Output;
            bool rich = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
            return Run(parseResult.GetValue(path)!, parseResult.GetValue(json), rich, output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>Inspects <paramref name="path"/>; returns 0, or 1 with a message on <paramref name="error"/>.</summary>
    internal static int Run(string path, bool json, bool rich, TextWriter output, TextWriter error)
    {
        try
        {
            Report report = IsGguf(path) ? FromGguf(path) : FromSafetensors(path);
            if (json) WriteJson(report, output);
            else if (rich) WriteTables(report, output);
            else WritePlain(report, output);
            return 0;
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"edgewise inspect: {e.Message}");
            return 1;
        }
    }

    private static bool IsGguf(string path)
    {
        if (Directory.Exists(path)) return false;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or directory.", path);
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8)
            || path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase);
    }

    // ---- one format-neutral report, built from the header ----

    private sealed record Field(string Key, string Type, string Display, Action<Utf8JsonWriter> WriteJson);

    /// <param name="Offset">Absolute byte offset of the data in its file.</param>
    /// <param name="Shard">File name of the shard holding the data, for multi-file checkpoints; else null.</param>
    private sealed record TensorRow(string Name, string Type, long[] Shape, long Bytes, long Elements, long Offset, string? Shard)
    {
        public string Location => Shard is null ? Offset.ToString(CultureInfo.InvariantCulture) : $"{Shard}@{Offset}";
    }

    private sealed record Report(string Format, string Path, List<(string Label, string Value, object Raw)> Summary,
        List<Field> Metadata, string ShapeOrder, List<TensorRow> Tensors);

    private static Report FromGguf(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        var metadata = new List<Field>(file.MetadataEntries.Count);
        foreach (GgufMetadataEntry entry in file.MetadataEntries)
        {
            GgufValue value = entry.Value;
            bool tokenizer = entry.Key.StartsWith("tokenizer.", StringComparison.Ordinal);
            int items = tokenizer ? TokenizerPreviewItems : ArrayPreviewItems;
            string type = value.Type == GgufValueType.Array ? $"{value.ElementType}[{value.ArrayLength}]" : value.Type.ToString();
            // Describe already abbreviates: long strings (chat templates) and arrays (vocabularies) show their head.
            string display = value.Type == GgufValueType.Array
                ? (value.ArrayLength == 0 ? "(empty)" : value.DescribeElements(items))
                : value.Describe(items, 80);
            if (entry.Key == "tokenizer.ggml.token_type" && value.Type == GgufValueType.Array && value.ElementType == GgufValueType.Int32)
            {
                display = SummariseTokenTypes(value.AsSpan<int>());
            }
            // Capture the JSON now: the file is disposed before the report is written.
            var buffer = new ArrayBufferWriterJson();
            WriteGgufValueJson(buffer.Writer, value, items);
            string jsonText = buffer.ToString();
            metadata.Add(new Field(entry.Key, type, display, w => w.WriteRawValue(jsonText)));
        }

        var tensors = new List<TensorRow>(file.Tensors.Count);
        foreach (GgufTensorInfo t in file.Tensors)
        {
            tensors.Add(new TensorRow(t.Name, t.Type.ToString(), t.Shape, t.ByteSize, t.ElementCount, file.DataOffset + t.Offset, null));
        }
        var summary = new List<(string, string, object)>
        {
            ("format", $"GGUF v{file.Version}", "gguf"),
            ("version", file.Version.ToString(CultureInfo.InvariantCulture), file.Version),
            ("file bytes", FormatBytes(file.Length), file.Length),
            ("alignment", file.Alignment.ToString(CultureInfo.InvariantCulture), file.Alignment),
            ("data offset", file.DataOffset.ToString(CultureInfo.InvariantCulture), file.DataOffset),
        };
        if (file.TryGetValue("general.architecture", out GgufValue? arch) && arch.Type == GgufValueType.String)
        {
            summary.Add(("architecture", arch.AsString(), arch.AsString()));
        }
        AddTotals(summary, tensors);
        return new Report("gguf", file.FilePath, summary, metadata, "ggml order, ne0 first", tensors);
    }

    private static Report FromSafetensors(string path)
    {
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(path);
        var metadata = new List<Field>();
        foreach ((string key, string value) in checkpoint.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            metadata.Add(new Field(key, "String", Abbreviate(value, 80), w => w.WriteStringValue(value)));
        }
        var tensors = new List<TensorRow>(checkpoint.Tensors.Count);
        bool sharded = checkpoint.ShardPaths.Count > 1;
        foreach (SafetensorsTensorInfo t in checkpoint.Tensors)
        {
            string? shard = sharded ? System.IO.Path.GetFileName(t.ShardPath) : null;
            tensors.Add(new TensorRow(t.Name, t.Dtype.ToString(), t.Shape, t.ByteSize, t.ElementCount, t.Offset, shard));
        }
        long fileBytes = checkpoint.ShardPaths.Sum(p => new FileInfo(p).Length);
        var summary = new List<(string, string, object)>
        {
            ("format", "safetensors", "safetensors"),
            ("shards", checkpoint.ShardPaths.Count.ToString(CultureInfo.InvariantCulture), checkpoint.ShardPaths.Count),
            ("file bytes", FormatBytes(fileBytes), fileBytes),
        };
        AddTotals(summary, tensors);
        return new Report("safetensors", checkpoint.Path, summary, metadata, "Hugging Face order, outermost first", tensors);
    }

    private static void AddTotals(List<(string, string, object)> summary, List<TensorRow> tensors)
    {
        long bytes = 0, elements = 0;
        foreach (TensorRow t in tensors)
        {
            bytes += t.Bytes;
            elements += t.Elements;
        }
        summary.Add(("tensor count", tensors.Count.ToString(CultureInfo.InvariantCulture), tensors.Count));
        summary.Add(("tensor bytes", FormatBytes(bytes), bytes));
        summary.Add(("parameters", FormatCount(elements), elements));
    }

    // ---- renderers ----

    private static void WritePlain(Report report, TextWriter output)
    {
        output.WriteLine(report.Path);
        WriteColumns(output, [.. report.Summary.Select(s => new[] { s.Label, s.Value })]);
        output.WriteLine();
        output.WriteLine($"metadata ({report.Metadata.Count})");
        WriteColumns(output, [["key", "type", "value"], .. report.Metadata.Select(m => new[] { m.Key, m.Type, m.Display })]);
        output.WriteLine();
        output.WriteLine($"tensors ({report.Tensors.Count}; shape in {report.ShapeOrder})");
        WriteColumns(output, [["name", "type", "shape", "bytes", "offset"],
            .. report.Tensors.Select(t => new[] { t.Name, t.Type, FormatShape(t.Shape), t.Bytes.ToString(CultureInfo.InvariantCulture), t.Location })]);
    }

    private static void WriteColumns(TextWriter output, List<string[]> rows)
    {
        if (rows.Count == 0) return;
        var widths = new int[rows[0].Length];
        foreach (string[] row in rows)
        {
            // The last column is never padded, so one long value does not widen every line.
            for (int c = 0; c < row.Length - 1; c++) widths[c] = Math.Max(widths[c], row[c].Length);
        }
        var line = new StringBuilder();
        foreach (string[] row in rows)
        {
            line.Clear();
            for (int c = 0; c < row.Length; c++)
            {
                if (c > 0) line.Append("  ");
                line.Append(c == row.Length - 1 ? row[c] : row[c].PadRight(widths[c]));
            }
            output.WriteLine(line.ToString().TrimEnd());
        }
    }

    private static void WriteTables(Report report, TextWriter output)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ReferenceEquals(output, Console.Out) ? AnsiSupport.Detect : AnsiSupport.No,
        });
        var summary = new Table { Border = TableBorder.Rounded, Title = new TableTitle(Markup.Escape(report.Path)) };
        summary.AddColumn("").AddColumn("").HideHeaders();
        foreach ((string label, string value, _) in report.Summary) summary.AddRow(new SpectreText(label), new SpectreText(value));
        console.Write(summary);

        var metadata = new Table { Border = TableBorder.Rounded, Title = new TableTitle($"metadata ({report.Metadata.Count})") };
        metadata.AddColumn("key").AddColumn("type").AddColumn("value");
        foreach (Field m in report.Metadata) metadata.AddRow(new SpectreText(m.Key), new SpectreText(m.Type), new SpectreText(m.Display));
        console.Write(metadata);

        var tensors = new Table { Border = TableBorder.Rounded, Title = new TableTitle($"tensors ({report.Tensors.Count}; shape in {report.ShapeOrder})") };
        tensors.AddColumn("name").AddColumn("type").AddColumn("shape").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn(new TableColumn("offset").RightAligned());
        foreach (TensorRow t in report.Tensors)
        {
            tensors.AddRow(new IRenderable[] { new SpectreText(t.Name), new SpectreText(t.Type), new SpectreText(FormatShape(t.Shape)), new SpectreText(FormatBytes(t.Bytes)), new SpectreText(t.Location) });
        }
        console.Write(tensors);
    }

    private static void WriteJson(Report report, TextWriter output)
    {
        var buffer = new ArrayBufferWriterJson(indented: true);
        Utf8JsonWriter w = buffer.Writer;
        w.WriteStartObject();
        w.WriteString("path", report.Path);
        foreach ((string label, _, object raw) in report.Summary)
        {
            string name = label.Replace(' ', '_');
            switch (raw)
            {
                case string s: w.WriteString(name, s); break;
                case long l: w.WriteNumber(name, l); break;
                case int i: w.WriteNumber(name, i); break;
                case uint u: w.WriteNumber(name, u); break;
            }
        }
        w.WriteStartObject("metadata");
        foreach (Field m in report.Metadata)
        {
            w.WritePropertyName(m.Key);
            m.WriteJson(w);
        }
        w.WriteEndObject();
        w.WriteString("shape_order", report.Format == "gguf" ? "ggml" : "hf");
        w.WriteStartArray("tensors");
        foreach (TensorRow t in report.Tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("type", t.Type);
            w.WriteStartArray("shape");
            foreach (long d in t.Shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteNumber("bytes", t.Bytes);
            w.WriteNumber("offset", t.Offset);
            if (t.Shard is not null) w.WriteString("shard", t.Shard);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        output.WriteLine(buffer.ToString());
    }

    /// <summary>Scalars as JSON values; arrays as {element_type, length, head} so vocabularies stay small.</summary>
    private static void WriteGgufValueJson(Utf8JsonWriter w, GgufValue value, int items)
    {
        switch (value.Type)
        {
            case GgufValueType.String: w.WriteStringValue(value.AsString()); return;
            case GgufValueType.Bool: w.WriteBooleanValue(value.AsBool()); return;
            case GgufValueType.Float32 or GgufValueType.Float64: WriteDouble(w, value.AsFloat64()); return;
            case GgufValueType.UInt64: w.WriteNumberValue(value.AsUInt64()); return;
            case GgufValueType.Array: break;
            default: w.WriteNumberValue(value.AsInt64()); return;
        }
        w.WriteStartObject();
        w.WriteString("element_type", value.ElementType.ToString());
        w.WriteNumber("length", value.ArrayLength);
        w.WriteStartArray("head");
        int n = (int)Math.Min(value.ArrayLength, items);
        switch (value.ElementType)
        {
            case GgufValueType.String: foreach (string s in value.AsStringArray(n)) w.WriteStringValue(s); break;
            case GgufValueType.Array: for (int i = 0; i < n; i++) WriteGgufValueJson(w, value.AsArrayOfValues()[i], items); break;
            case GgufValueType.UInt8: foreach (byte v in value.AsSpan<byte>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.Int8: foreach (sbyte v in value.AsSpan<sbyte>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.UInt16: foreach (ushort v in value.AsSpan<ushort>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.Int16: foreach (short v in value.AsSpan<short>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.UInt32: foreach (uint v in value.AsSpan<uint>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.Int32: foreach (int v in value.AsSpan<int>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.UInt64: foreach (ulong v in value.AsSpan<ulong>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.Int64: foreach (long v in value.AsSpan<long>()[..n]) w.WriteNumberValue(v); break;
            case GgufValueType.Float32: foreach (float v in value.AsSpan<float>()[..n]) WriteDouble(w, v); break;
            case GgufValueType.Float64: foreach (double v in value.AsSpan<double>()[..n]) WriteDouble(w, v); break;
            case GgufValueType.Bool: foreach (bool v in value.AsArray<bool>().AsSpan(0, n)) w.WriteBooleanValue(v); break;
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    // JSON has no NaN or infinities; tokenizer score arrays do contain -inf.
    private static void WriteDouble(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v);
        else w.WriteStringValue(v.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Counts per llama.cpp token type (<c>llama_token_type</c>: 1 normal ... 6 byte) instead of the first few ids.</summary>
    private static string SummariseTokenTypes(ReadOnlySpan<int> types)
    {
        Span<long> counts = stackalloc long[8];
        foreach (int t in types) counts[t is >= 0 and < 7 ? t : 7]++;
        string[] names = ["undefined", "normal", "unknown", "control", "user_defined", "unused", "byte", "other"];
        var parts = new List<string>();
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0) parts.Add($"{names[i]} {counts[i]}");
        }
        return string.Join(", ", parts);
    }

    // ---- formatting ----

    private static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):F2} KiB",
        _ => $"{bytes} B",
    };

    private static string FormatCount(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:F2} B ({n})",
        >= 1_000_000 => $"{n / 1e6:F2} M ({n})",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };

    private static string Abbreviate(string s, int max)
    {
        string oneLine = s.Replace("\n", "\\n").Replace("\r", "\\r");
        return oneLine.Length <= max ? oneLine : $"{oneLine[..max]}... ({s.Length} chars)";
    }

    private sealed class ArrayBufferWriterJson(bool indented = false)
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new();
        private Utf8JsonWriter? _writer;

        public Utf8JsonWriter Writer => _writer ??= new Utf8JsonWriter(_buffer, new JsonWriterOptions
        {
            Indented = indented,
            // Vocabulary pieces and templates are shown as written, not \u-escaped.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            SkipValidation = false,
        });

        public override string ToString()
        {
            _writer?.Flush();
            return Encoding.UTF8.GetString(_buffer.WrittenSpan);
        }
    }
}
