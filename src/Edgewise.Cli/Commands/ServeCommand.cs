using System.CommandLine;
using Edgewise.Cli.Infrastructure;
using Edgewise.Hub;
using Edgewise.Models.Common;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Microsoft.Extensions.Hosting;

namespace Edgewise.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model file (.gguf, safetensors folder) or hub id." };
        var modelOption = new Option<string?>("--model", "-m") { Description = "Model file or hub id (alternative to the argument)." };
        model.Arity = ArgumentArity.ZeroOrOne;
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port.", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on every request except /health." };
        var insecure = new Option<bool>("--allow-insecure-remote") { Description = "Listen on a non-loopback address without an API key." };
        var parallel = new Option<int>("--parallel", "-np") { Description = "Generations decoding together.", DefaultValueFactory = _ => 1 };
        var queue = new Option<int>("--queue") { Description = "Requests allowed to wait for a slot before 429.", DefaultValueFactory = _ => 16 };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes (413 beyond).", DefaultValueFactory = _ => 16L * 1024 * 1024 };
        var cors = new Option<string[]>("--cors-origin") { Description = "Allow browser requests from this origin (repeatable). CORS is off by default.", AllowMultipleArgumentsPerToken = false };
        var ctx = new Option<int?>("--ctx", "-c") { Description = "Context length per session (default: the model's)." };
        // --threads, --ple, --ple-cache, --weights: the same placement options as run, generate and bench.
        var load = new ModelLoadArguments();
        var keepAlive = new Option<double>("--keep-alive")
        {
            Description = "Seconds between SSE ': keep-alive' comments while a streamed request waits for a slot or its prefill (0: off).",
            DefaultValueFactory = _ => 10,
        };
        var offline = new Option<bool>("--offline") { Description = "Never download: resolve MODEL from local files and the local store only." };

        var command = new Command("serve", "Serve a model over an OpenAI- and Ollama-compatible HTTP API.");
        command.Arguments.Add(model);
        foreach (var option in new Option[] { modelOption, host, port, apiKey, insecure, parallel, queue, maxBody, cors, ctx, keepAlive, offline })
            command.Options.Add(option);
        load.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var modelReference = parse.GetValue(modelOption) ?? parse.GetValue(model);
            if (string.IsNullOrWhiteSpace(modelReference))
            {
                Console.Error.WriteLine("serve: give a model file or hub id (argument or --model).");
                return 2;
            }

            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("EDGEWISE_API_KEY"),
                AllowInsecureRemote = parse.GetValue(insecure),
                Parallel = parse.GetValue(parallel),
                QueueLength = parse.GetValue(queue),
                MaxBodyBytes = parse.GetValue(maxBody),
                CorsOrigins = parse.GetValue(cors) ?? [],
                KeepAliveInterval = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(keepAlive))),
                LogLevel = Microsoft.Extensions.Logging.LogLevel.Information,
            };
            try
            {
                // A hub alias is pulled on first use (unless --offline); clients then address the model by what was typed.
                string path = await ModelResolver.ResolveAsync(modelReference, parse.GetValue(offline), cancellationToken);
                bool isFile = File.Exists(modelReference) || Directory.Exists(modelReference);
                ModelLoadOptions placement = load.Read(parse);
                BackendFactory.Register((file, backendOptions) => new EngineChatBackend(file, backendOptions,
                    new EngineBackendOptions(Id: isFile ? null : modelReference, Aliases: isFile ? null : [Path.GetFileName(path)], Placement: placement)));
                using var backend = (EngineChatBackend)BackendFactory.Create(path, new BackendOptions(parse.GetValue(ctx), Math.Max(1, placement.Threads), options.Parallel));
                await using var app = EdgewiseServer.Build(options, backend);
                await app.StartAsync(cancellationToken);
                Console.WriteLine($"edgewise serving {string.Join(", ", backend.Models.Select(m => m.Id))} on {EdgewiseServer.BaseAddress(app)} (parallel {options.Parallel}, queue {options.QueueLength}{(options.ApiKey is null ? "" : ", API key required")})");
                // The model loads in the background (/health says 503 meanwhile); a load that fails ends the command
                // with its reason instead of leaving a server that can only answer 503.
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _ = backend.Loaded.ContinueWith(_ =>
                {
                    if (backend.Status.State != BackendState.Failed) return;
                    Console.Error.WriteLine($"serve: {backend.Status.Message}");
                    stop.Cancel();
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                await app.WaitForShutdownAsync(stop.Token);
                return backend.Status.State == BackendState.Failed ? 1 : 0;
            }
            catch (ServerConfigurationException ex)
            {
                Console.Error.WriteLine($"serve: {ex.Message}");
                return 2;
            }
            catch (Exception ex) when (ex is HubException or FileNotFoundException)
            {
                Console.Error.WriteLine($"serve: {ex.Message}");
                return 3;
            }
        });
        return command;
    }
}
