using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Edgewise.Text.Chat;
using Edgewise.Text.Templates;
using Xunit;

namespace Edgewise.Text.Tests.Templates;

/// <summary>
/// Every official template x every conversation in tests/TestData/templates/conversations.json, compared byte for
/// byte with @huggingface/jinja 0.5.11 (make-goldens.mjs) and Python Jinja2 3.1.6 (make-goldens-jinja2.py).
/// </summary>
public sealed class ReferenceGoldenTests
{
    /// <summary>
    /// Cases where @huggingface/jinja and Python Jinja2 (what transformers runs) disagree; we follow Python.
    /// Old Gemma 4 templates print None through <c>{{ argument }}</c> (JS prints ""), pipe list-valued system content
    /// through <c>trim</c> (JS throws), and Gemma 3 treats a missing content as an empty iterable (JS throws).
    /// </summary>
    private static readonly HashSet<string> KnownDivergences =
    [
        "templates/history/google-gemma-4-31B-it.2026-04-13.jinja|tool_call_argument_types",
        "templates/history/google-gemma-4-31B-it.2026-04-29.jinja|tool_call_argument_types",
        "templates/history/google-gemma-4-E2B-it.2026-04-13.jinja|tool_call_argument_types",
        "templates/history/google-gemma-4-E2B-it.2026-04-29.jinja|tool_call_argument_types",
        "templates/history/google-gemma-4-launch.2026-04-02.jinja|tool_call_argument_types",
        "templates/llama.cpp-gemma4.jinja|tool_call_argument_types",
        "templates/llama.cpp-google-gemma-4-31B-it-interleaved.jinja|tool_call_argument_types",
        "templates/history/google-gemma-4-31B-it.2026-04-13.jinja|system_as_parts",
        "templates/history/google-gemma-4-E2B-it.2026-04-13.jinja|system_as_parts",
        "templates/history/google-gemma-4-launch.2026-04-02.jinja|system_as_parts",
        "templates/llama.cpp-gemma4.jinja|system_as_parts",
        "templates/llama.cpp-google-gemma-4-31B-it-interleaved.jinja|system_as_parts",
        "templates/google-gemma-3-it.jinja|tool_call_pending",
        "templates/google-gemma-3-it.jinja|native_tool_responses",
        "templates/google-gemma-3-it.jinja|string_tool_arguments",
        "templates/google-gemma-3n-it.jinja|tool_call_pending",
        "templates/google-gemma-3n-it.jinja|native_tool_responses",
        "templates/google-gemma-3n-it.jinja|string_tool_arguments",
    ];

    private static readonly Lazy<JsonDocument> PythonGoldens = new(() =>
        JsonDocument.Parse(File.ReadAllText(SharedData.TestDataPath("templates/jinja2-goldens.json"))));

    private static readonly Lazy<JsonDocument> Goldens = new(() =>
        JsonDocument.Parse(File.ReadAllText(SharedData.TestDataPath("templates/jinja-js-goldens.json"))));

    private static readonly Lazy<Dictionary<string, JsonElement>> Conversations = new(() =>
    {
        var doc = JsonDocument.Parse(File.ReadAllText(SharedData.TestDataPath("templates/conversations.json")));
        return doc.RootElement.GetProperty("conversations").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
    });

    private static readonly Dictionary<string, JinjaTemplate> Parsed = [];

    public static TheoryData<int, string, string> Cases()
    {
        var data = new TheoryData<int, string, string>();
        var i = 0;
        foreach (var entry in Goldens.Value.RootElement.GetProperty("renderings").EnumerateArray())
        {
            data.Add(i++, entry.GetProperty("template").GetString()!, entry.GetProperty("case").GetString()!);
        }

        return data;
    }

    [Fact]
    public void Matrix_is_large_and_pins_the_shared_templates()
    {
        var renderings = Goldens.Value.RootElement.GetProperty("renderings");
        Assert.True(renderings.GetArrayLength() >= 60, "at least ~60 renders across templates");
        foreach (var entry in renderings.EnumerateArray())
        {
            var bytes = File.ReadAllBytes(SharedData.DataPath(entry.GetProperty("template").GetString()!));
            Assert.Equal(entry.GetProperty("template_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public void References_disagree_only_where_documented()
    {
        var js = Goldens.Value.RootElement.GetProperty("renderings");
        var py = PythonGoldens.Value.RootElement.GetProperty("renderings");
        Assert.Equal(js.GetArrayLength(), py.GetArrayLength());
        var divergences = new HashSet<string>();
        for (var i = 0; i < js.GetArrayLength(); i++)
        {
            Assert.Equal(js[i].GetProperty("case").GetString(), py[i].GetProperty("case").GetString());
            var jsText = js[i].TryGetProperty("rendered", out var j) ? j.GetString() : null;
            var pyText = py[i].TryGetProperty("rendered", out var p) ? p.GetString() : null;
            if (jsText != pyText) divergences.Add($"{js[i].GetProperty("template").GetString()}|{js[i].GetProperty("case").GetString()}");
        }

        Assert.Equal(KnownDivergences.Order(StringComparer.Ordinal), divergences.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_the_reference_renderers(int index, string template, string caseName)
    {
        var jsEntry = Goldens.Value.RootElement.GetProperty("renderings")[index];
        var entry = PythonGoldens.Value.RootElement.GetProperty("renderings")[index];
        var conversation = Conversations.Value[caseName];
        var jinja = Template(template);
        var variables = Variables(conversation);

        if (entry.TryGetProperty("error", out var error))
        {
            var thrown = Assert.ThrowsAny<TemplateException>(() => jinja.Render(variables));
            if (jsEntry.TryGetProperty("error", out var jsError) && jsError.GetString() == error.GetString())
            {
                // Both references report the template's own raise_exception message: so must we.
                var raised = Assert.IsType<TemplateRaisedException>(thrown);
                Assert.Equal(error.GetString(), raised.Reason);
            }

            return;
        }

        var expected = entry.GetProperty("rendered").GetString();
        var rendered = jinja.Render(variables);
        Assert.True(expected == rendered, $"{caseName} on {template}:\n--- expected\n{expected}\n--- rendered\n{rendered}");
        if (!KnownDivergences.Contains($"{template}|{caseName}"))
        {
            Assert.Equal(jsEntry.GetProperty("rendered").GetString(), rendered);
        }

        // The typed chat model must produce the same prompt as the raw JSON.
        if (conversation.TryGetProperty("typed", out var typed) && !typed.GetBoolean()) return;
        var chat = new ChatTemplate(jinja.Source);
        var messages = ChatJson.ParseMessages(conversation.GetProperty("messages"));
        var tools = conversation.TryGetProperty("tools", out var t) ? t.EnumerateArray().Select(ToolDefinition.FromOpenAiJson).ToList() : null;
        bool? thinking = conversation.TryGetProperty("enable_thinking", out var th) ? th.GetBoolean() : null;
        var typedRendered = chat.Render(messages, tools, conversation.GetProperty("add_generation_prompt").GetBoolean(), thinking,
            new Dictionary<string, object?> { ["pad_token"] = "<pad>", ["unk_token"] = "<unk>" });
        Assert.True(expected == typedRendered, $"typed {caseName} on {template}:\n--- expected\n{expected}\n--- rendered\n{typedRendered}");
    }

    private static JinjaTemplate Template(string relative)
    {
        lock (Parsed)
        {
            if (!Parsed.TryGetValue(relative, out var template))
            {
                template = JinjaTemplate.Parse(File.ReadAllText(SharedData.DataPath(relative), Encoding.UTF8));
                Parsed[relative] = template;
            }

            return template;
        }
    }

    private static Dictionary<string, object?> Variables(JsonElement conversation)
    {
        var variables = new Dictionary<string, object?>
        {
            ["messages"] = JinjaValues.FromJson(conversation.GetProperty("messages")),
            ["add_generation_prompt"] = conversation.GetProperty("add_generation_prompt").GetBoolean(),
            ["bos_token"] = "<bos>",
            ["eos_token"] = "<eos>",
            ["pad_token"] = "<pad>",
            ["unk_token"] = "<unk>",
        };
        if (conversation.TryGetProperty("tools", out var tools)) variables["tools"] = JinjaValues.FromJson(tools);
        if (conversation.TryGetProperty("enable_thinking", out var thinking)) variables["enable_thinking"] = thinking.GetBoolean();
        return variables;
    }
}
