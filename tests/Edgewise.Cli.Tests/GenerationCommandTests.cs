using System.Text.Json;
using Edgewise.Cli.Commands;
using Edgewise.Engine.Sampling;
using Edgewise.Engine.Sessions;
using Edgewise.Text.Chat;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary>generate, bench and the chat loop of run, in process on a synthetic model.</summary>
public sealed class GenerationCommandTests(SyntheticModelFile model) : IClassFixture<SyntheticModelFile>
{
    private static async Task<(int Code, string Output)> InvokeAsync(System.CommandLine.Command command, params string[] args)
    {
        TextWriter saved = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            int code = await command.Parse(args).InvokeAsync();
            return (code, output.ToString());
        }
        finally
        {
            Console.SetOut(saved);
        }
    }

    [Fact]
    public async Task GenerateJson_MatchesTheSessionAndReportsUsage()
    {
        (int code, string output) = await InvokeAsync(GenerateCommand.Create(), model.Path, "hello there", "--json", "--temperature", "0", "--max-tokens", "10", "--threads", "2", "--offline");
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement usage = doc.RootElement.GetProperty("usage");
        int completion = usage.GetProperty("completion_tokens").GetInt32();
        Assert.InRange(completion, 1, 10);

        // The same turn through the engine directly gives the same text and counts.
        using EdgewiseModel loaded = EdgewiseModel.Load(model.Path, new EngineLoadOptions { Threads = 2 });
        using ChatSession session = loaded.CreateSession();
        var text = new System.Text.StringBuilder();
        GenerationUsage? expected = null;
        await foreach (GenerationUpdate u in session.GenerateAsync([ChatMessage.User("hello there")], new GenerationOptions { Sampling = SamplingOptions.Greedy with { TopK = 64, TopP = 0.95f }, MaxTokens = 10 }))
        {
            if (u.Kind == GenerationUpdateKind.Text) text.Append(u.Text);
            if (u.Kind == GenerationUpdateKind.Finished) expected = u.Usage;
        }
        Assert.Equal(text.ToString(), doc.RootElement.GetProperty("text").GetString());
        Assert.Equal(expected!.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.CompletionTokens, completion);
    }

    [Fact]
    public async Task BenchJson_ReportsSpeedsMemoryAndPleRowBytes()
    {
        (int code, string output) = await InvokeAsync(BenchCommand.Create(), model.Path, "--prompt", "40", "--gen", "8", "--threads", "2", "--json", "--offline");
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement r = doc.RootElement;
        Assert.Equal(40, r.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(8, r.GetProperty("generated_tokens").GetInt32());
        Assert.True(r.GetProperty("prefill_tokens_per_second").GetDouble() > 0);
        Assert.True(r.GetProperty("decode_tokens_per_second").GetDouble() > 0);
        Assert.True(r.GetProperty("time_to_first_token_ms").GetDouble() > 0);
        Assert.True(r.GetProperty("load_ms").GetDouble() > 0);
        // Counted from the process start, so it holds the load and the first turn's own wait.
        Assert.True(r.GetProperty("cold_first_token_ms").GetDouble() >= r.GetProperty("load_ms").GetDouble() + r.GetProperty("time_to_first_token_ms").GetDouble());
        if (OperatingSystem.IsLinux())
        {
            Assert.True(r.GetProperty("peak_resident_bytes").GetInt64() > 1 << 20);
            // Whether the kernel gave 2 MiB pages depends on it and the page cache; the figure is whole 2 MiB pages,
            // at most what is resident.
            long huge = r.GetProperty("huge_page_resident_bytes").GetInt64();
            Assert.Equal(0, huge % (2 << 20));
            Assert.True(huge <= r.GetProperty("peak_resident_bytes").GetInt64());
        }
        // One F32 row of layers × PLE width per token.
        Assert.Equal(SyntheticModelFile.Spec.Layers * SyntheticModelFile.Spec.Ple * 4, r.GetProperty("ple_bytes_per_token").GetInt64());
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("resident")]
    public async Task Bench_TakesThePlePlacementOptions(string mode)
    {
        (int code, string output) = await InvokeAsync(BenchCommand.Create(), model.Path, "--prompt", "16", "--gen", "4", "--threads", "2",
            "--ple", mode, "--ple-cache", "1MB", "--json", "--offline");
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        Assert.Equal(4, doc.RootElement.GetProperty("generated_tokens").GetInt32());
    }

    [Fact]
    public async Task Bench_builds_the_repack_cache_once_in_EDGEWISE_HOME_and_off_skips_it()
    {
        string home = System.IO.Path.Combine(model.Directory, "home");
        string q4 = System.IO.Path.Combine(model.Directory, "tiny-q4_0.gguf");
        Edgewise.Models.Synthesis.Gemma4GgufSynthesizer.Write(SyntheticModelFile.Spec with { Dtype = Edgewise.Core.Tensors.GgmlType.Q4_0 }, q4);
        string? saved = Environment.GetEnvironmentVariable("EDGEWISE_HOME");
        TextWriter savedError = Console.Error;
        var error = new StringWriter();
        Environment.SetEnvironmentVariable("EDGEWISE_HOME", home);
        Console.SetError(error);
        try
        {
            string[] args = [q4, "--prompt", "8", "--gen", "2", "--threads", "2", "--json", "--offline"];
            Assert.Equal(0, (await InvokeAsync(BenchCommand.Create(), [.. args, "--repack-cache", "off"])).Code);
            Assert.False(System.IO.Directory.Exists(System.IO.Path.Combine(home, "repacked")));
            Assert.Equal(0, (await InvokeAsync(BenchCommand.Create(), args)).Code);
            Assert.Single(System.IO.Directory.GetFiles(System.IO.Path.Combine(home, "repacked"), "*" + Edgewise.Core.Kernels.RepackCache.Extension));
            Assert.Equal(0, (await InvokeAsync(BenchCommand.Create(), args)).Code);
        }
        finally
        {
            Console.SetError(savedError);
            Environment.SetEnvironmentVariable("EDGEWISE_HOME", saved);
        }
        // Said once: the second run found the cache current.
        string log = error.ToString();
        Assert.Contains("Repacked the matrices for fast decode", log);
        Assert.Equal(log.IndexOf("Repacked", StringComparison.Ordinal), log.LastIndexOf("Repacked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bench_RejectsAnUnknownPlePlacement()
    {
        (int code, _) = await InvokeAsync(BenchCommand.Create(), model.Path, "--ple", "disk", "--offline");
        Assert.NotEqual(0, code);
    }

    private sealed class RecordingOutput : IChatOutput
    {
        public System.Text.StringBuilder All { get; } = new();
        public int Answers { get; private set; }

        public void Prompt(string text) => All.Append(text);

        public void Answer(string delta)
        {
            Answers++;
            All.Append(delta);
        }

        public void Thought(string delta) => All.Append("[thought]").Append(delta);

        public void Notice(string text) => All.AppendLine(text);
    }

    [Fact]
    public async Task ChatLoop_JoinsContinuedLines_RunsSlashCommands_AndSaves()
    {
        using EdgewiseModel loaded = EdgewiseModel.Load(model.Path, new EngineLoadOptions { Threads = 2 });
        using ChatSession session = loaded.CreateSession(512);
        string saved = Path.Combine(model.Directory, "chat.json");
        string input = string.Join('\n',
            "first line \\",
            "second line",
            "\"\"\"block one",
            "block two\"\"\"",
            "/system Be terse.",
            "after system",
            "/save " + saved,
            "/nonsense",
            "/bye",
            "never read") + "\n";
        var output = new RecordingOutput();
        var repl = new ChatRepl(session, new GenerationOptions { Sampling = SamplingOptions.Greedy, MaxTokens = 4 }, "Be kind.", new StringReader(input), output, verbose: false);
        Assert.Equal(0, await repl.RunAsync(CancellationToken.None));

        // /system cleared the two first exchanges; the conversation is system, user, assistant.
        Assert.Equal([ChatRole.System, ChatRole.User, ChatRole.Assistant], repl.Messages.Select(m => m.Role));
        Assert.Equal("Be terse.", repl.Messages[0].Content);
        Assert.Equal("after system", repl.Messages[1].Content);
        Assert.Contains("Unknown command /nonsense", output.All.ToString(), StringComparison.Ordinal);
        Assert.True(output.Answers >= 3);

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(saved));
        Assert.Equal(3, doc.RootElement.GetArrayLength());
        Assert.Equal("after system", doc.RootElement[1].GetProperty("content").GetString());
    }

    [Fact]
    public void ReadMessage_ContinuationAndBlocks()
    {
        using EdgewiseModel loaded = EdgewiseModel.Load(model.Path, new EngineLoadOptions { Threads = 1 });
        using ChatSession session = loaded.CreateSession(64);
        var repl = new ChatRepl(session, GenerationOptions.Default, null, new StringReader("a \\\nb\n\"\"\"\nx\ny\n\"\"\"\n"), new RecordingOutput(), false);
        Assert.Equal("a \nb", repl.ReadMessage());
        Assert.Equal("x\ny", repl.ReadMessage());
        Assert.Null(repl.ReadMessage());
    }
}
