namespace LiteVL.Host;

/// <summary>The host's own arguments; everything else goes to ASP.NET configuration (e.g. --urls, --LiteVL:Model:Directory=...).</summary>
internal sealed record HostArguments(string DataDirectory, int Samples, string[] Remaining)
{
    public static HostArguments Parse(string[] args)
    {
        string data = Environment.GetEnvironmentVariable("LITEVL_DATA") ?? ".litevl";
        int samples = 6;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data" when i + 1 < args.Length:
                    data = args[++i];
                    break;
                case "--samples" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n >= 0:
                    samples = n;
                    i++;
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }

        return new HostArguments(data, samples, [.. rest]);
    }
}
