using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Tests.Support;
using OpenAI;
using OpenAI.Chat;

namespace Edgewise.Server.Tests;

/// <summary>API key, loopback-only default, CORS, and readiness.</summary>
public sealed class SecurityTests
{
    private const string Body = """{"model":"gemma-test","messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task ApiKey_RequiredOnEveryRouteButHealth()
    {
        await using var server = await TestServer.StartAsync(options: new ServerOptions { ApiKey = "s3cret-key" });

        using var missing = await Wire.PostAsync(server.Client, "/v1/chat/completions", Body);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("invalid_api_key", (await Wire.JsonAsync(missing)).GetProperty("error").GetProperty("code").GetString());

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-kez");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.SendAsync(wrong)).StatusCode);

        using var basic = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "s3cret-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.SendAsync(basic)).StatusCode);

        using var ollama = await server.Client.GetAsync("/api/tags");
        Assert.Equal(HttpStatusCode.Unauthorized, ollama.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        Assert.Empty(server.Backend.Requests);

        var sdk = new ChatClient("gemma-test", new ApiKeyCredential("s3cret-key"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "/v1") });
        ChatCompletion answer = await sdk.CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Echo: hi", answer.Content[0].Text);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("192.168.1.10")]
    [InlineData("::")]
    public void NonLoopbackBind_WithoutKey_IsRefused(string host)
    {
        var ex = Assert.Throws<ServerConfigurationException>(() => EdgewiseServer.Build(new ServerOptions { Host = host, Port = 0 }, new ScriptedBackend()));
        Assert.Contains("--api-key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonLoopbackBind_IsAllowedWithAKeyOrExplicitOptIn()
    {
        await using (var withKey = EdgewiseServer.Build(new ServerOptions { Host = "0.0.0.0", Port = 0, ApiKey = "k" }, new ScriptedBackend())) { }
        await using (var optIn = EdgewiseServer.Build(new ServerOptions { Host = "0.0.0.0", Port = 0, AllowInsecureRemote = true }, new ScriptedBackend())) { }
        await using (var loopback = EdgewiseServer.Build(new ServerOptions { Host = "::1", Port = 0 }, new ScriptedBackend())) { }
        Assert.Throws<ServerConfigurationException>(() => EdgewiseServer.Build(new ServerOptions { Host = "example.com" }, new ScriptedBackend()));
        Assert.Throws<ServerConfigurationException>(() => EdgewiseServer.Build(new ServerOptions { Parallel = 0 }, new ScriptedBackend()));
    }

    [Fact]
    public async Task Cors_OffByDefault()
    {
        await using var server = await TestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        request.Headers.Add("Origin", "https://evil.example");

        using var response = await server.Client.SendAsync(request);

        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        preflight.Headers.Add("Origin", "https://evil.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var preflightResponse = await server.Client.SendAsync(preflight);
        Assert.False(preflightResponse.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_AllowsOnlyConfiguredOrigins_AndPreflightNeedsNoKey()
    {
        await using var server = await TestServer.StartAsync(options: new ServerOptions { CorsOrigins = ["https://app.example"], ApiKey = "k" });

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        preflight.Headers.Add("Origin", "https://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        using var allowed = await server.Client.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://app.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());

        using var other = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        other.Headers.Add("Origin", "https://evil.example");
        other.Headers.Add("Access-Control-Request-Method", "POST");
        using var refused = await server.Client.SendAsync(other);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task WhileLoading_HealthAndGenerationAnswer503()
    {
        var backend = new ScriptedBackend { Status = new BackendStatus(BackendState.Loading, "reading weights") };
        await using var server = await TestServer.StartAsync(backend);

        using var health = await server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("loading", (await Wire.JsonAsync(health)).GetProperty("status").GetString());
        using var chat = await Wire.PostAsync(server.Client, "/v1/chat/completions", Body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, chat.StatusCode);
        Assert.NotNull(chat.Headers.RetryAfter);
        Assert.Equal("model_not_ready", (await Wire.JsonAsync(chat)).GetProperty("error").GetProperty("code").GetString());

        backend.Status = BackendStatus.Ready;
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Wire.PostAsync(server.Client, "/v1/chat/completions", Body)).StatusCode);
    }
}
