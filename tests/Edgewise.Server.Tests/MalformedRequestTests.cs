using System.Net;
using System.Text;
using System.Text.Json;
using Edgewise.Server.Hosting;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>One malformed request and the answer it must get.</summary>
public sealed record MalformedCase(string Name, string Method, string Path, string? Body, int Status, string Type, string? Code, string ContentType = "application/json");

public sealed class MalformedServerFixture : IAsyncLifetime
{
    public const int ContextLength = 256;
    public const int MaxBody = 64 * 1024;

    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await TestServer.StartAsync(new ScriptedBackend(ContextLength), new ServerOptions { MaxBodyBytes = MaxBody });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// The malformed-request table: every row gets an error object with the right status and type, no
/// row gets a 500, and the server keeps serving. The same table is rendered into docs/server-errors.md.
/// </summary>
public sealed class MalformedRequestTests(MalformedServerFixture fixture) : IClassFixture<MalformedServerFixture>
{
    private const string Chat = "/v1/chat/completions";
    private const string User = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    private const string Weather = """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}""";
    private const string Invalid = "invalid_request_error";

    public static readonly MalformedCase[] Cases =
    [
        new("Invalid JSON", "POST", Chat, """{"model":"gemma-test",""", 400, Invalid, "invalid_json"),
        new("Body is an array, not an object", "POST", Chat, "[1,2,3]", 400, Invalid, "invalid_json"),
        new("Empty body", "POST", Chat, "", 400, Invalid, "invalid_json"),
        new("Body is JSON null", "POST", Chat, "null", 400, Invalid, "invalid_json"),
        new("`messages` is a string", "POST", Chat, """{"model":"gemma-test","messages":"hi"}""", 400, Invalid, "invalid_type"),
        new("`temperature` is a string", "POST", Chat, """{"model":"gemma-test","temperature":"hot",@USER@}""", 400, Invalid, "invalid_type"),
        new("`stream` is a string", "POST", Chat, """{"model":"gemma-test","stream":"yes",@USER@}""", 400, Invalid, "invalid_type"),
        new("`model` missing", "POST", Chat, """{@USER@}""", 400, Invalid, "missing_required_parameter"),
        new("Unknown model", "POST", Chat, """{"model":"gpt-9",@USER@}""", 404, Invalid, "model_not_found"),
        new("`messages` missing", "POST", Chat, """{"model":"gemma-test"}""", 400, Invalid, "missing_required_parameter"),
        new("`messages` empty", "POST", Chat, """{"model":"gemma-test","messages":[]}""", 400, Invalid, "empty_array"),
        new("Message without `role`", "POST", Chat, """{"model":"gemma-test","messages":[{"content":"hi"}]}""", 400, Invalid, "missing_required_parameter"),
        new("Unknown role", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"robot","content":"hi"}]}""", 400, Invalid, "invalid_value"),
        new("User `content` is a number", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"user","content":42}]}""", 400, Invalid, "invalid_type"),
        new("User `content` missing", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"user"}]}""", 400, Invalid, "missing_required_parameter"),
        new("Unknown content part type", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"user","content":[{"type":"video","video":"x"}]}]}""", 400, Invalid, "invalid_value"),
        new("Tool message without `tool_call_id`", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"tool","content":"18C"}]}""", 400, Invalid, "missing_required_parameter"),
        new("`temperature` above 2", "POST", Chat, """{"model":"gemma-test","temperature":3,@USER@}""", 400, Invalid, "invalid_value"),
        new("`top_p` below 0", "POST", Chat, """{"model":"gemma-test","top_p":-0.1,@USER@}""", 400, Invalid, "invalid_value"),
        new("`n` is 0", "POST", Chat, """{"model":"gemma-test","n":0,@USER@}""", 400, Invalid, "invalid_value"),
        new("`max_tokens` is 0", "POST", Chat, """{"model":"gemma-test","max_tokens":0,@USER@}""", 400, Invalid, "invalid_value"),
        new("`max_completion_tokens` exceeds the context", "POST", Chat, """{"model":"gemma-test","max_completion_tokens":100000,@USER@}""", 400, Invalid, "context_length_exceeded"),
        new("Prompt longer than the context", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"user","content":"@LONG@"}]}""", 400, Invalid, "context_length_exceeded"),
        new("`top_logprobs` without `logprobs`", "POST", Chat, """{"model":"gemma-test","top_logprobs":3,@USER@}""", 400, Invalid, "invalid_value"),
        new("`top_logprobs` above 20", "POST", Chat, """{"model":"gemma-test","logprobs":true,"top_logprobs":30,@USER@}""", 400, Invalid, "invalid_value"),
        new("`stop` is a number", "POST", Chat, """{"model":"gemma-test","stop":5,@USER@}""", 400, Invalid, "invalid_type"),
        new("`stop` has 20 sequences", "POST", Chat, """{"model":"gemma-test","stop":[@STOPS20@],@USER@}""", 400, Invalid, "invalid_value"),
        new("`logit_bias` key is not a token id", "POST", Chat, """{"model":"gemma-test","logit_bias":{"hello":5},@USER@}""", 400, Invalid, "invalid_value"),
        new("`stream_options` without `stream`", "POST", Chat, """{"model":"gemma-test","stream_options":{"include_usage":true},@USER@}""", 400, Invalid, "invalid_value"),
        new("`tool_choice` unknown string", "POST", Chat, """{"model":"gemma-test","tools":[@WEATHER@],"tool_choice":"sometimes",@USER@}""", 400, Invalid, "invalid_value"),
        new("`tool_choice` names a missing function", "POST", Chat, """{"model":"gemma-test","tools":[@WEATHER@],"tool_choice":{"type":"function","function":{"name":"get_time"}},@USER@}""", 400, Invalid, "invalid_value"),
        new("`tool_choice` required without tools", "POST", Chat, """{"model":"gemma-test","tool_choice":"required",@USER@}""", 400, Invalid, "invalid_value"),
        new("Tool name with spaces", "POST", Chat, """{"model":"gemma-test","tools":[{"type":"function","function":{"name":"get weather!"}}],@USER@}""", 400, Invalid, "invalid_value"),
        new("Duplicate tool names", "POST", Chat, """{"model":"gemma-test","tools":[@WEATHER@,@WEATHER@],@USER@}""", 400, Invalid, "invalid_value"),
        new("Tool type is not `function`", "POST", Chat, """{"model":"gemma-test","tools":[{"type":"retrieval"}],@USER@}""", 400, Invalid, "invalid_value"),
        new("Tool parameters are not a schema object", "POST", Chat, """{"model":"gemma-test","tools":[{"type":"function","function":{"name":"f","parameters":[1]}}],@USER@}""", 400, Invalid, "invalid_schema"),
        new("`response_format.type` unknown", "POST", Chat, """{"model":"gemma-test","response_format":{"type":"xml"},@USER@}""", 400, Invalid, "invalid_value"),
        new("`json_schema` without a schema", "POST", Chat, """{"model":"gemma-test","response_format":{"type":"json_schema","json_schema":{"name":"x"}},@USER@}""", 400, Invalid, "missing_required_parameter"),
        new("Schema with an unknown type", "POST", Chat, """{"model":"gemma-test","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"strng"}}}}},@USER@}""", 400, Invalid, "invalid_schema"),
        new("Schema with an unresolvable `$ref`", "POST", Chat, """{"model":"gemma-test","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$ref":"#/$defs/missing"}}},@USER@}""", 400, Invalid, "invalid_schema"),
        new("Schema with a broken `pattern`", "POST", Chat, """{"model":"gemma-test","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"(["}}},@USER@}""", 400, Invalid, "invalid_schema"),
        new("`reasoning_effort` unknown", "POST", Chat, """{"model":"gemma-test","reasoning_effort":"extreme",@USER@}""", 400, Invalid, "invalid_value"),
        new("Audio input the model cannot take", "POST", Chat, """{"model":"gemma-test","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}]}""", 400, Invalid, "unsupported_value"),
        new("Body larger than `--max-body`", "POST", Chat, "<oversized>", 413, Invalid, "request_too_large"),
        new("Content-Type is not JSON", "POST", Chat, """{"model":"gemma-test",@USER@}""", 415, Invalid, "unsupported_media_type", "application/xml"),
        new("GET on a POST route", "GET", Chat, null, 405, Invalid, "method_not_allowed"),
        new("Unknown route", "POST", "/v1/nothing", "{}", 404, "not_found_error", "unknown_url"),
        new("Unknown model id in `/v1/models/{id}`", "GET", "/v1/models/gpt-9", null, 404, Invalid, "model_not_found"),
        new("Completions without `prompt`", "POST", "/v1/completions", """{"model":"gemma-test"}""", 400, Invalid, "missing_required_parameter"),
        new("Completions with a batch of prompts", "POST", "/v1/completions", """{"model":"gemma-test","prompt":["a","b"]}""", 400, Invalid, "unsupported_value"),
        new("Completions `logprobs` above 5", "POST", "/v1/completions", """{"model":"gemma-test","prompt":"a","logprobs":9}""", 400, Invalid, "invalid_value"),
        new("Responses with `previous_response_id`", "POST", "/v1/responses", """{"model":"gemma-test","input":"hi","previous_response_id":"resp_1"}""", 400, Invalid, "unsupported_value"),
        new("Responses with empty `input`", "POST", "/v1/responses", """{"model":"gemma-test","input":[]}""", 400, Invalid, "empty_array"),
        new("Responses input item of unknown type", "POST", "/v1/responses", """{"model":"gemma-test","input":[{"type":"computer_call"}]}""", 400, Invalid, "invalid_value"),
        new("Ollama chat with an unknown model", "POST", "/api/chat", """{"model":"llama9","messages":[{"role":"user","content":"hi"}]}""", 404, "ollama", null),
        new("Ollama generate with `format` a number", "POST", "/api/generate", """{"model":"gemma-test","prompt":"hi","format":5}""", 400, "ollama", null),
        new("Ollama chat with an unknown role", "POST", "/api/chat", """{"model":"gemma-test","messages":[{"role":"wizard","content":"hi"}]}""", 400, "ollama", null),
        new("Ollama `top_logprobs` without `logprobs`", "POST", "/api/chat", """{"model":"gemma-test","top_logprobs":2,"messages":[{"role":"user","content":"hi"}]}""", 400, "ollama", null),
    ];

    public static TheoryData<string> CaseNames => [.. Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task MalformedRequest_GetsTheRightError(string name)
    {
        var row = Cases.Single(c => c.Name == name);
        using var request = new HttpRequestMessage(new HttpMethod(row.Method), row.Path);
        if (row.Body is not null)
        {
            var body = row.Body == "<oversized>"
                ? $$"""{"model":"gemma-test","messages":[{"role":"user","content":"{{new string('x', MalformedServerFixture.MaxBody + 1)}}"}]}"""
                : Expand(row.Body);
            request.Content = new StringContent(body, Encoding.UTF8, row.ContentType);
        }

        using var response = await fixture.Server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(row.Status == (int)response.StatusCode, $"{row.Name}: expected {row.Status}, got {(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        if (row.Type == "ollama")
        {
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("error").GetString()));
            return;
        }

        var error = json.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(row.Type, error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out _), "OpenAI error objects always carry 'param'");
        Assert.Equal(row.Code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task AfterEveryMalformedRequest_TheServerStillServes()
    {
        foreach (var row in Cases.Where(c => c.Body is not null and not "<oversized>"))
            using (await fixture.Server.Client.SendAsync(new HttpRequestMessage(new HttpMethod(row.Method), row.Path) { Content = new StringContent(Expand(row.Body!), Encoding.UTF8, row.ContentType) })) { }

        using var response = await Wire.PostAsync(fixture.Server.Client, Chat, $$"""{"model":"gemma-test",{{User}}}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, fixture.Server.State.Queue.Active);
        Assert.Equal(0, fixture.Server.Backend.ActiveSessions);
        var metrics = await fixture.Server.Client.GetStringAsync("/metrics");
        Assert.DoesNotContain("status=\"500\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void TableHasAtLeastThirtyRows_AndDocsListEveryRow()
    {
        Assert.True(Cases.Length >= 30);
        Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());
        var expected = RenderTable();
        var path = Path.Combine(RepoRoot(), "docs", "server-errors.md");
        if (Environment.GetEnvironmentVariable("EDGEWISE_UPDATE_SNAPSHOTS") == "1")
        {
            var doc = File.ReadAllText(path);
            var start = doc.IndexOf(TableStart, StringComparison.Ordinal) + TableStart.Length;
            var end = doc.IndexOf(TableEnd, StringComparison.Ordinal);
            File.WriteAllText(path, doc[..start] + "\n" + expected + doc[end..]);
        }

        var text = File.ReadAllText(path).ReplaceLineEndings("\n");
        Assert.Contains(expected, text, StringComparison.Ordinal);
    }

    private const string TableStart = "<!-- table:begin (generated by MalformedRequestTests; EDGEWISE_UPDATE_SNAPSHOTS=1 rewrites it) -->";
    private const string TableEnd = "<!-- table:end -->";

    // Bodies are written with placeholders so the table stays readable.
    private static string Expand(string body) => body
        .Replace("@USER@", User, StringComparison.Ordinal)
        .Replace("@WEATHER@", Weather, StringComparison.Ordinal)
        .Replace("@LONG@", string.Join(' ', Enumerable.Repeat("word", 300)), StringComparison.Ordinal)
        .Replace("@STOPS20@", string.Join(',', Enumerable.Range(0, 20).Select(i => $"\"s{i}\"")), StringComparison.Ordinal);

    private static string RenderTable()
    {
        var text = new StringBuilder();
        text.Append("| # | Request | Route | Status | `error.type` | `error.code` |\n|---|---|---|---|---|---|\n");
        for (var i = 0; i < Cases.Length; i++)
        {
            var c = Cases[i];
            var type = c.Type == "ollama" ? "Ollama `{\"error\": \"...\"}`" : $"`{c.Type}`";
            var code = c.Code is null ? "" : $"`{c.Code}`";
            text.Append($"| {i + 1} | {c.Name} | `{c.Method} {c.Path}` | {c.Status} | {type} | {code} |\n");
        }

        return text.ToString();
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edgewise.slnx")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Edgewise.slnx not found above " + AppContext.BaseDirectory);
    }
}
