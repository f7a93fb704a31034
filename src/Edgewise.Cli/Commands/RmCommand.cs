using System.CommandLine;
using Edgewise.Core.Kernels;
using Edgewise.Hub;

namespace Edgewise.Cli.Commands;

internal static class RmCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The model as pulled: an alias, hf.co/ORG/REPO[:QUANT], or ORG/REPO with --file." };
        var file = new Option<string?>("--file") { Description = "Remove only this file of the repository." };
        var command = new Command("rm", "Delete a model (file and manifest) and any unfinished download of it from the local store.");
        command.Arguments.Add(model);
        command.Options.Add(file);
        command.SetAction(parse =>
        {
            ModelReference reference;
            try
            {
                reference = ModelReference.Parse(parse.GetValue(model)!, parse.GetValue(file));
            }
            catch (FormatException ex)
            {
                return HubConsole.Fail(ex.Message, 2);
            }
            var store = new ModelStore(hub: null);
            var removed = store.Remove(reference);
            var partials = store.RemovePartials(reference);
            foreach (var p in partials)
            {
                Console.WriteLine($"removed unfinished download of {Path.GetFileName(p)}");
            }
            if (removed.Count == 0 && partials.Count == 0)
            {
                return HubConsole.Fail($"Model '{reference.Text}' is not in the local store ({ModelStoreOptions.DefaultRoot()}); `edgewise list` shows what is.", 1);
            }
            foreach (var m in removed)
            {
                Console.WriteLine($"removed {m.Repository}/{m.File} ({PullCommand.FormatSize(m.Size)})");
            }
            // Their repack caches go too (and those of any other model file that no longer exists).
            RepackCache.RemoveOrphans(ModelLoadArguments.RepackCacheDirectory);
            return 0;
        });
        return command;
    }
}
