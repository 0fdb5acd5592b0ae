using System.Collections;
using System.ComponentModel;
using System.Reflection;
using LiteVL.Media;

namespace LiteVL.Deployment.Tests;

/// <summary>
/// Whether an environment variable <c>LiteVL__A__B</c> reaches a real setting: ASP.NET Core maps it to the key
/// <c>LiteVL:A:B</c>, and the options classes bind sections of keys to their public properties, case-insensitively.
/// The sections are found by reflection: every type of the LiteVL assemblies beside this test with a constant
/// <c>public const string Section = "LiteVL:..."</c>.
/// </summary>
internal static class ConfigurationBinding
{
    /// <summary>
    /// Keys the code reads one by one with <c>configuration["..."]</c>, not through an options class. Only keys really
    /// read that way belong here:
    /// <list type="bullet">
    /// <item><c>LiteVL:AdminKeyFile</c>: services/LiteVL.UploadApi/Program.cs, <c>app.Configuration["LiteVL:AdminKeyFile"]</c>.</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<string> DirectKeys { get; } = ["LiteVL:AdminKeyFile"];

    /// <summary>
    /// Sections bound without a <c>Section</c> constant:
    /// <list type="bullet">
    /// <item><c>LiteVL:Media</c>: services/LiteVL.FrameExtractor/FrameExtractorExtensions.cs,
    /// <c>configuration.GetSection("LiteVL:Media").Get&lt;MediaOptions&gt;()</c>.</item>
    /// </list>
    /// </summary>
    private static readonly (string Section, Type Options)[] SectionsWithoutConstant = [("LiteVL:Media", typeof(MediaOptions))];

    public static IReadOnlyDictionary<string, Type> Sections { get; } = Discover();

    private static Dictionary<string, Type> Discover()
    {
        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        string self = typeof(ConfigurationBinding).Assembly.GetName().Name!;
        foreach (string file in Directory.GetFiles(AppContext.BaseDirectory, "LiteVL.*.dll"))
        {
            var name = AssemblyName.GetAssemblyName(file);
            if (name.Name == self)
            {
                continue;
            }

            foreach (var type in TypesOf(Assembly.Load(name)))
            {
                if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field
                    && field.GetRawConstantValue() is string section
                    && section.StartsWith("LiteVL:", StringComparison.OrdinalIgnoreCase))
                {
                    if (sections.TryGetValue(section, out var other) && other != type)
                    {
                        throw new InvalidOperationException($"Section {section} is declared by both {other.FullName} and {type.FullName}.");
                    }

                    sections[section] = type;
                }
            }
        }

        foreach (var (section, options) in SectionsWithoutConstant)
        {
            sections.TryAdd(section, options);
        }

        return sections;
    }

    private static IEnumerable<Type> TypesOf(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>();
        }
    }

    /// <summary>Null when <paramref name="name"/> (and <paramref name="value"/>, when given) binds; else what is wrong.</summary>
    public static string? Check(string name, string? value)
    {
        string[] parts = name.Split("__");
        if (parts.Length < 2 || !parts[0].Equals("LiteVL", StringComparison.OrdinalIgnoreCase) || parts.Any(p => p.Length == 0))
        {
            return $"{name}: not of the form LiteVL__Section__Key";
        }

        string key = string.Join(':', parts);
        if (DirectKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            return null;
        }

        // The longest known section first (sections could nest).
        for (int n = parts.Length - 1; n >= 2; n--)
        {
            if (Sections.TryGetValue(string.Join(':', parts[..n]), out var options))
            {
                return CheckPath(name, options, parts[n..], value);
            }
        }

        return $"{name}: '{key}' is in no options section ({string.Join(", ", Sections.Keys.Order(StringComparer.Ordinal))}) and not a key read directly ({string.Join(", ", DirectKeys)})";
    }

    private static string? CheckPath(string name, Type options, string[] path, string? value)
    {
        Type current = options;
        foreach (string segment in path)
        {
            if (DictionaryValueType(current) is { } valueType)
            {
                current = valueType;
                continue;
            }

            if (current != typeof(string) && ElementType(current) is { } elementType)
            {
                if (!int.TryParse(segment, out _))
                {
                    return $"{name}: '{segment}' is not an index of the list {current.Name}";
                }

                current = elementType;
                continue;
            }

            var property = current.GetProperty(segment, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null || property.GetIndexParameters().Length > 0)
            {
                return $"{name}: {current.FullName} has no property '{segment}' (it has {string.Join(", ", Bindable(current))})";
            }

            if (property.SetMethod is not { IsPublic: true } && !IsContainer(property.PropertyType))
            {
                return $"{name}: {current.FullName}.{property.Name} has no public setter, so the binder leaves it alone";
            }

            current = property.PropertyType;
        }

        var target = Nullable.GetUnderlyingType(current) ?? current;
        if (IsContainer(target) || (target.IsClass && target != typeof(string) && target != typeof(Uri)))
        {
            return $"{name}: names the section {target.Name}, not a value";
        }

        if (value is not null && target != typeof(string))
        {
            try
            {
                _ = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(value);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException || e.InnerException is FormatException or OverflowException)
            {
                return $"{name}={value}: not a valid {target.Name} ({e.Message})";
            }
        }

        return null;
    }

    private static IEnumerable<string> Bindable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } || IsContainer(p.PropertyType))
            .Select(p => p.Name);

    private static bool IsContainer(Type type) => type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type);

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return dictionary?.GetGenericArguments()[1];
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var enumerable = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return enumerable?.GetGenericArguments()[0];
    }
}
