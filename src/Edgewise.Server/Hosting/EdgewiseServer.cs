using System.Net;
using Edgewise.Server.Backend;
using Edgewise.Server.Endpoints;
using Edgewise.Server.Http;
using Edgewise.Server.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Edgewise.Server.Hosting;

/// <summary>
/// Composes the HTTP server around a backend. The CLI and the tests host exactly this application.
/// </summary>
public static class EdgewiseServer
{
    /// <summary>
    /// Builds (does not start) the server. Throws <see cref="ServerConfigurationException"/> for unsafe
    /// or impossible settings, e.g. a non-loopback address without an API key.
    /// </summary>
    public static WebApplication Build(ServerOptions options, IChatBackend backend)
    {
        Validate(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            if (options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
                kestrel.ListenLocalhost(options.Port);
            else
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Default));
        builder.Services.AddSingleton(new ServerState(backend, options));
        if (options.CorsOrigins.Count > 0)
        {
            builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
                .WithOrigins([.. options.CorsOrigins])
                .WithMethods("GET", "POST", "OPTIONS")
                .WithHeaders("Authorization", "Content-Type")));
        }

        var app = builder.Build();
        var state = app.Services.GetRequiredService<ServerState>();
        app.UseMiddleware<RequestMetricsMiddleware>(state.Metrics);
        app.UseMiddleware<ErrorHandlingMiddleware>();
        if (options.CorsOrigins.Count > 0)
            app.UseCors();
        if (options.ApiKey is not null)
            app.UseMiddleware<ApiKeyMiddleware>(options.ApiKey);

        app.MapHealth();
        app.MapMetrics();
        app.MapModels();
        app.MapChatCompletions();
        app.MapCompletions();
        app.MapResponses();
        app.MapOllamaChat();
        app.MapOllamaGenerate();
        app.MapOllamaInfo();
        return app;
    }

    /// <summary>The first address the started server listens on, e.g. <c>http://127.0.0.1:53121</c>.</summary>
    public static Uri BaseAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("The server exposes no addresses; call StartAsync first.");
        return new Uri(addresses.First());
    }

    private static void Validate(ServerOptions options)
    {
        if (options.Parallel < 1)
            throw new ServerConfigurationException($"--parallel must be at least 1, found {options.Parallel}.");
        if (options.QueueLength < 0)
            throw new ServerConfigurationException($"--queue must be 0 or more, found {options.QueueLength}.");
        if (options.MaxBodyBytes < 1024)
            throw new ServerConfigurationException($"--max-body must be at least 1024 bytes, found {options.MaxBodyBytes}.");
        if (options.Port is < 0 or > 65535)
            throw new ServerConfigurationException($"--port must be in 0..65535, found {options.Port}.");
        if (options.ApiKey is { Length: 0 })
            throw new ServerConfigurationException("--api-key is empty.");

        var isLocalhost = options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase);
        if (isLocalhost && options.Port == 0)
            throw new ServerConfigurationException("--port 0 (any free port) needs an IP address such as 127.0.0.1, not 'localhost'.");
        if (!isLocalhost && !IPAddress.TryParse(options.Host, out _))
            throw new ServerConfigurationException($"--host must be an IP address or 'localhost', found '{options.Host}'.");
        if (!isLocalhost && !IPAddress.IsLoopback(IPAddress.Parse(options.Host)) && options.ApiKey is null && !options.AllowInsecureRemote)
        {
            throw new ServerConfigurationException(
                $"Refusing to listen on {options.Host} without an API key: anyone who can reach it could use the model. " +
                "Pass --api-key KEY, or --allow-insecure-remote if the network is trusted.");
        }
    }
}
