using System.Text.Json;
using Edgewise.Text.Templates;
using Xunit;

namespace Edgewise.Text.Tests.Templates;

/// <summary>The 43 prompts Python Jinja2 rendered from the shared official templates (shared/data/expected-outputs).</summary>
public sealed class Jinja2GoldenTests
{
    public static TheoryData<int, string, string> Cases()
    {
        var data = new TheoryData<int, string, string>();
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.DataPath("expected-outputs/rendered-prompts.jinja2.json")));
        var i = 0;
        foreach (var entry in doc.RootElement.GetProperty("renderings").EnumerateArray())
        {
            data.Add(i++, entry.GetProperty("template").GetString()!, entry.GetProperty("case").GetString()!);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_python_jinja2(int index, string template, string caseName)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.DataPath("expected-outputs/rendered-prompts.jinja2.json")));
        var entry = doc.RootElement.GetProperty("renderings")[index];
        var source = File.ReadAllText(SharedData.DataPath(template));
        var variables = new Dictionary<string, object?>
        {
            ["bos_token"] = "<bos>",
            ["eos_token"] = "<eos>",
            ["pad_token"] = "<pad>",
            ["unk_token"] = "<unk>",
            ["add_generation_prompt"] = entry.GetProperty("add_generation_prompt").GetBoolean(),
        };
        foreach (var input in entry.GetProperty("inputs").EnumerateObject()) variables[input.Name] = JinjaValues.FromJson(input.Value);
        if (entry.TryGetProperty("enable_thinking", out var thinking)) variables["enable_thinking"] = thinking.GetBoolean();

        var rendered = JinjaTemplate.Parse(source).Render(variables);

        Assert.True(entry.GetProperty("rendered").GetString() == rendered, $"{caseName} on {template}:\n{rendered}");
    }
}
