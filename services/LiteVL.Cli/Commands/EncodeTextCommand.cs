using System.CommandLine;
using System.Globalization;
using LiteVL.Model.Runtime;

namespace LiteVL.Cli.Commands;

/// <summary><c>litevl encode-text</c>: the tokens and the 256-d embedding the search uses for a text.</summary>
internal static class EncodeTextCommand
{
    public static Command Create(TextWriter output)
    {
        var modelDir = CliOptions.ModelDir();
        var device = CliOptions.Device();
        var text = new Argument<string>("text") { Description = "The text to encode." };
        var cmd = new Command("encode-text", "Print the BLIP tokens and the 256-d text embedding of a text.") { modelDir, device, text };
        cmd.SetAction(p =>
        {
            using var logging = CliOptions.Logging();
            using var model = LiteVLModel.Open(p.GetValue(modelDir)!, CliOptions.Runtime(p.GetValue(device)!, fp16: false), logging.CreateLogger("litevl"));
            string value = p.GetValue(text)!;
            var batch = model.Tokenizer.Encode([value]);
            var tokens = model.Tokenizer.Tokenize(value);
            output.WriteLine($"cleaned:   {Model.Text.BlipTokenizer.CleanCaption(value)}");
            output.WriteLine($"tokens:    [CLS] {string.Join(' ', tokens)} [SEP]{(batch.Truncated[0] ? "  (truncated)" : string.Empty)}");
            output.WriteLine($"ids:       {string.Join(' ', batch.InputIds.Take(batch.AttentionMask.Count(m => m == 1)))}");
            var embedding = model.EncodeTexts([value]);
            output.WriteLine($"embedding: {embedding.Length} values, model {model.Config.Version}");
            for (int i = 0; i < embedding.Length; i += 8)
            {
                output.WriteLine("  " + string.Join(' ', embedding.Skip(i).Take(8).Select(v => v.ToString("+0.000000;-0.000000", CultureInfo.InvariantCulture))));
            }

            return 0;
        });
        return cmd;
    }
}
