package dev.moe.api.v1alpha1;

import java.util.regex.Pattern;

/**
 * Kubernetes name syntax (the rules of apimachinery's validation package, in plain Java) and the names the
 * operator derives from a job's name.
 *
 * <p>The regular expressions are shared: the CRD types use them as {@code @Pattern} (the API server evaluates
 * them with Go's RE2) and in CEL {@code matches()}, and this class evaluates them with java.util.regex. They use
 * only syntax on which the two engines agree (character classes, groups, alternation, counted repetition).
 *
 * <p>What the operator derives from a job named {@code <job>} (operator/README.md, "What a job owns"):
 * <pre>
 *   Service (headless)        &lt;job&gt;                 DNS-1035 label, also every pod's subdomain
 *   Pod                       &lt;job&gt;-node-&lt;rank&gt;     also the pod's hostname: a DNS label of at most 63
 *   ConfigMap                 &lt;job&gt;-plan
 *   ServiceAccount/Role/RB    &lt;job&gt;-trainer
 *   label value               training.moe.dev/job=&lt;job&gt;       at most 63
 *   Kueue pod-group label     &lt;job&gt;-a&lt;attempt&gt;                at most 63; attempt grows with every restart
 * </pre>
 * So a job name is a DNS-1035 label short enough that {@code <job>-a<largest attempt>} and
 * {@code <job>-node-<largest rank>} have at most 63 characters: {@link #MAX_JOB_NAME_LENGTH} (the CRD says so in
 * CEL on MoETrainingJob; the plan engine's JobNameRules reports a name that breaks it).
 */
public final class ObjectNameRules {
    private ObjectNameRules() {}

    /** DNS-1035 label: lowercase letters, digits and '-', starting with a letter. Service names. */
    public static final String DNS1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
    /** DNS-1123 label: lowercase letters, digits and '-', starting and ending alphanumeric. Volume names. */
    public static final String DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
    /** DNS-1123 subdomain: dot-separated DNS-1123 labels. Names of ConfigMaps, Secrets, claims, LocalQueues. */
    public static final String DNS1123_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    /** A label value: empty, or alphanumerics with '-', '_', '.' inside. */
    public static final String LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
    /**
     * A qualified name (label keys, topology keys, node-selector keys, taint keys): an optional DNS-1123 subdomain
     * prefix and '/', then a name of at most 63 alphanumerics with '-', '_', '.' inside.
     */
    public static final String QUALIFIED_NAME_BODY =
            "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                    + "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
    /** {@link #QUALIFIED_NAME_BODY}, anchored. */
    public static final String QUALIFIED_NAME = "^" + QUALIFIED_NAME_BODY + "$";
    /**
     * An environment variable name as every API server accepts it (Kubernetes' C-identifier-like rule before
     * RelaxedEnvironmentVariableValidation), so a name also works in the shell that torchrun's workers inherit.
     */
    public static final String ENV_NAME = "^[-._a-zA-Z][-._a-zA-Z0-9]*$";
    /** A key of a ConfigMap or Secret. */
    public static final String CONFIG_MAP_KEY = "^[-._a-zA-Z0-9]+$";
    /** An image reference: printable ASCII without spaces (the registry resolves the rest). Empty = default. */
    public static final String IMAGE = "^[!-~]*$";
    /** A LocalQueue name (a DNS-1123 subdomain that is also a label value), or empty for no queue. */
    public static final String QUEUE_NAME = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$";

    public static final int MAX_DNS_LABEL_LENGTH = 63;
    public static final int MAX_DNS_SUBDOMAIN_LENGTH = 253;
    public static final int MAX_LABEL_VALUE_LENGTH = 63;
    /** Prefix (a DNS subdomain) + '/' + name. */
    public static final int MAX_QUALIFIED_NAME_LENGTH = MAX_DNS_SUBDOMAIN_LENGTH + 1 + 63;

    /** Pods are {@code <job>-node-<rank>} (operator GangNames.podName). */
    public static final String POD_NAME_INFIX = "-node-";
    /** Kueue pod groups are {@code <job>-a<attempt>} (operator GangPodFactory.kueueGroupName). */
    public static final String KUEUE_GROUP_INFIX = "-a";
    /** Largest node rank: {@code <job>-node-4095}. */
    public static final int MAX_NODE_RANK = SpecLimits.MAX_NODES - 1;
    /** Largest restart attempt the status can hold (a Java int; the attempt is not otherwise bounded). */
    public static final int MAX_ATTEMPT = Integer.MAX_VALUE;
    /**
     * Longest job name: 63 − the longest suffix, {@code "-a2147483647"} (12 characters; {@code "-node-4095"} is
     * 10). ObjectNameRulesTest derives it again from the constants above.
     */
    public static final int MAX_JOB_NAME_LENGTH = 51;

    private static final Pattern DNS1035 = Pattern.compile(DNS1035_LABEL);
    private static final Pattern SUBDOMAIN = Pattern.compile(DNS1123_SUBDOMAIN);
    private static final Pattern LABEL = Pattern.compile(LABEL_VALUE);
    private static final Pattern QUALIFIED = Pattern.compile(QUALIFIED_NAME);
    private static final Pattern ENV = Pattern.compile(ENV_NAME);
    private static final Pattern KEY = Pattern.compile(CONFIG_MAP_KEY);
    private static final Pattern IMAGE_REF = Pattern.compile(IMAGE);
    private static final Pattern QUEUE = Pattern.compile(QUEUE_NAME);

    public static boolean isDns1035Label(String s) {
        return s != null
                && s.length() <= MAX_DNS_LABEL_LENGTH
                && DNS1035.matcher(s).matches();
    }

    public static boolean isDns1123Subdomain(String s) {
        return s != null
                && s.length() <= MAX_DNS_SUBDOMAIN_LENGTH
                && SUBDOMAIN.matcher(s).matches();
    }

    public static boolean isLabelValue(String s) {
        return s != null
                && s.length() <= MAX_LABEL_VALUE_LENGTH
                && LABEL.matcher(s).matches();
    }

    public static boolean isQualifiedName(String s) {
        if (s == null
                || s.length() > MAX_QUALIFIED_NAME_LENGTH
                || !QUALIFIED.matcher(s).matches()) {
            return false;
        }
        int slash = s.indexOf('/');
        return slash <= MAX_DNS_SUBDOMAIN_LENGTH;
    }

    public static boolean isEnvName(String s) {
        return s != null
                && s.length() <= SpecLimits.MAX_ENV_NAME_LENGTH
                && ENV.matcher(s).matches();
    }

    public static boolean isConfigMapKey(String s) {
        return s != null
                && s.length() <= MAX_DNS_SUBDOMAIN_LENGTH
                && KEY.matcher(s).matches();
    }

    public static boolean isImage(String s) {
        return s != null
                && s.length() <= SpecLimits.MAX_IMAGE_LENGTH
                && IMAGE_REF.matcher(s).matches();
    }

    public static boolean isQueueName(String s) {
        return s != null
                && s.length() <= MAX_LABEL_VALUE_LENGTH
                && QUEUE.matcher(s).matches();
    }
}
