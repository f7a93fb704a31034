using Edgewise.Text.Chat;
using Edgewise.Text.Templates;
using Xunit;

namespace Edgewise.Text.Tests.Templates;

/// <summary>Anything outside the supported subset fails loudly with a position, never with a wrong prompt.</summary>
public sealed class TemplateErrorTests
{
    [Theory]
    [InlineData("{% raw %}x{% endraw %}", 1, 4, "raw")]
    [InlineData("ok\n{% call foo() %}x{% endcall %}", 2, 4, "call")]
    [InlineData("{% for x in y recursive %}{% endfor %}", 1, 15, "recursive")]
    [InlineData("{% set a, b = 1, 2 %}", 1, 9, "tuple assignment")]
    [InlineData("{% include 'other.jinja' %}", 1, 4, "include")]
    [InlineData("{% extends 'base' %}", 1, 4, "extends")]
    [InlineData("{% filter upper %}x{% endfilter %}", 1, 4, "filter")]
    [InlineData("{% if x %}never closed", 1, 23, "endif")]
    [InlineData("{{ x ", 1, 1, "'}}'")]
    [InlineData("{# unclosed comment", 1, 1, "unclosed comment")]
    [InlineData("{{ 'unterminated }}", 1, 4, "unterminated string")]
    [InlineData("{{ f(*args) }}", 1, 6, "*args")]
    [InlineData("{% endfor %}", 1, 4, "endfor")]
    public void Unsupported_or_broken_syntax_names_line_and_column(string source, int line, int column, string construct)
    {
        var e = Assert.ThrowsAny<TemplateException>(() => JinjaTemplate.Parse(source));
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.Contains(construct, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("line one\n  {{ 'x' | frobnicate }}", 2, 10, "unsupported filter 'frobnicate'")]
    [InlineData("{{ 1 is prime }}", 1, 6, "unsupported test 'prime'")]
    [InlineData("{{ missing.attr }}", 1, 11, "'missing' is undefined")]
    [InlineData("{{ missing['k'] }}", 1, 11, "'missing' is undefined")]
    [InlineData("{{ 'a' + 1 }}", 1, 8, "unsupported operand types for +: str and int")]
    [InlineData("{{ '%s' % 1 }}", 1, 9, "printf-style")]
    [InlineData("{{ 1 // 0 }}", 1, 6, "division by zero")]
    [InlineData("{{ nothing() }}", 1, 11, "'nothing' is undefined")]
    [InlineData("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", 1, 35, "at most 1 arguments")]
    [InlineData("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}", 1, 35, "no parameter named 'b'")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", 1, 19, "not a namespace")]
    [InlineData("{{ undefined_value | tojson }}", 1, 20, "tojson")]
    [InlineData("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}", 1, 20, "recursed deeper")]
    [InlineData("{{ 9223372036854775807 + 1 }}", 1, 24, "integer overflow")]
    [InlineData("{{ 'ab' * 100000000 }}", 1, 9, "string repetition")]
    public void Runtime_errors_name_line_column_and_construct(string source, int line, int column, string message)
    {
        var template = JinjaTemplate.Parse(source);
        var e = Assert.ThrowsAny<TemplateException>(() => template.Render(new Dictionary<string, object?>()));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal((line, column), (e.Line, e.Column));
    }

    [Fact]
    public void Raise_exception_surfaces_the_templates_own_message()
    {
        var template = new ChatTemplate(File.ReadAllText(SharedData.DataPath("templates/google-gemma-3-it.jinja")));
        var e = Assert.Throws<TemplateRaisedException>(() => template.Render([ChatMessage.User("a"), ChatMessage.User("b")]));
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", e.Reason);
        Assert.True(e.Line > 0);
    }

    [Fact]
    public void Gemma4_refuses_string_arguments_rather_than_rendering_them()
    {
        var template = new ChatTemplate(File.ReadAllText(SharedData.DataPath("templates/google-gemma-4-E2B-it.jinja")));
        var messages = new[] { ChatMessage.User("hi"), ChatMessage.Assistant(null, new ToolCall("c1", "f", "not json")) };
        var e = Assert.Throws<TemplateRaisedException>(() => template.Render(messages));
        Assert.Contains("must be a JSON object", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokenizer_config_chat_template_list_and_special_tokens_are_read()
    {
        const string config = """
            {"bos_token": {"content": "<B>"}, "eos_token": "<E>",
             "chat_template": [{"name": "default", "template": "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}"},
                               {"name": "tool_use", "template": "T:{{ tools | length }}"}]}
            """;
        Assert.Equal("<B>hi<E>", ChatTemplate.FromTokenizerConfig(config).Render([ChatMessage.User("hi")]));
        Assert.Equal("T:1", ChatTemplate.FromTokenizerConfig(config, "tool_use").Render([ChatMessage.User("hi")], [new ToolDefinition("f")]));
        Assert.Throws<FormatException>(() => ChatTemplate.FromTokenizerConfig(config, "missing"));
    }
}
