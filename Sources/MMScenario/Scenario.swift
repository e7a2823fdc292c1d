/// PLACEHOLDER: the scenario language lives here.
import MMCore
import MMProcFS
